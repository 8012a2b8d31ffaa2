"""The canonical formatter: layout per construct, comments, files, the corpus.

Every example is checked three ways: the output is the expected text,
formatting the output again changes nothing, and the output parses to the
same tree as the input (spans and spelling-only fields aside).
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from lotc.cli import main
from lotc.frontend import ast
from lotc.frontend.diagnostics import Span
from lotc.frontend.formatter import format_paths, format_source
from lotc.frontend.parser import parse_source
from lotc.frontend.source import SourceFile

# Fields that record only how something was spelled; the formatter may change
# them (see the formatter's docstring), so tree comparisons leave them out.
SPELLING = {
    ast.Set: {"separator"},
    ast.Timestamp: {"legacy"},
    ast.PublishModel: {"block"},
    ast.Action: {"layout"},
}


def strip_spans(node):
    """``node`` as nested tuples, without spans and spelling-only fields."""
    if isinstance(node, list | tuple):
        return tuple(strip_spans(item) for item in node)
    if isinstance(node, Span) or not dataclasses.is_dataclass(node):
        return node
    skipped = {"span"} | SPELLING.get(type(node), set())
    return (type(node).__name__,) + tuple(
        (field.name, strip_spans(getattr(node, field.name)))
        for field in dataclasses.fields(node)
        if field.name not in skipped
    )


def tree(text: str):
    module, diagnostics = parse_source(SourceFile("t.lot", text))
    errors = [
        d
        for d in diagnostics
        if d.is_error and d.code < "LOT100" and d.code != "LOT005"  # tabs: see fmt
    ]
    assert not errors, errors
    return strip_spans(module.entities)


def fmt(text: str) -> str | None:
    return format_source(SourceFile("t.lot", text))


def lot(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def check(source: str, expected: str | None = None) -> str:
    """Format ``source``; compare with ``expected`` (default: unchanged)."""
    source = lot(source)
    expected = source if expected is None else lot(expected)
    out = fmt(source)
    assert out == expected
    assert fmt(out) == out, "formatting is not idempotent"
    assert tree(out) == tree(source), "formatting changed the tree"
    return out


# --------------------------------------------------------------------- actions


@pytest.mark.parametrize(
    "trigger",
    [
        "ON EVERY 5 SECONDS",
        "ON EVERY 1 MINUTE",
        "ON EVERY 100 MILLISECONDS",
        'ON EVERY WEEKDAY AT "23:15"',
        'ON EVERY MONDAY AT "08:00:00"',
        'ON TIMESTAMP "01-01-2026 00:00:00"',
        'ON TOPIC "line/+/speed"',
        'ON CHANGE "door/+/state"',
        "ON START",
        "ON CONNECT",
        "ON DISCONNECT",
        "ON SUBSCRIBE",
        'ON SUBSCRIBE "a/#"',
    ],
)
def test_every_trigger_kind_is_one_line_ending_in_do(trigger):
    check(
        f"""
        DEFINE ACTION   Tick
        {trigger}    DO
              PUBLISH TOPIC "a"   WITH   1
        """,
        f"""
        DEFINE ACTION Tick
        {trigger} DO
            PUBLISH TOPIC "a" WITH 1
        """,
    )


def test_header_on_the_define_line_or_do_alone_becomes_two_lines():
    expected = """
        DEFINE ACTION A
        ON START DO
            SET "x" WITH 1
        """
    check('DEFINE ACTION A ON START DO\n    SET "x" WITH 1\n', expected)
    check('DEFINE ACTION A\nON START\nDO\n    SET "x" WITH 1\n', expected)


def test_callable_action_keeps_inputs_do_and_return_in_column_zero():
    check(
        """
        DEFINE ACTION DewPoint
        INPUT tempC AS DOUBLE
        INPUT relHum AS DOUBLE
        DO
          SET "dp" WITH {tempC} - ((100 - {relHum}) / 5)
          SET "risk" WITH ({dp} > 12)
        RETURN
          OUTPUT dp
          OUTPUT risk
        """,
        """
        DEFINE ACTION DewPoint
        INPUT tempC AS DOUBLE
        INPUT relHum AS DOUBLE
        DO
            SET "dp" WITH {tempC} - ((100 - {relHum}) / 5)
            SET "risk" WITH ({dp} > 12)
        RETURN
            OUTPUT dp
            OUTPUT risk
        """,
    )


def test_manual_action_keeps_its_legacy_description():
    check(
        """
        DEFINE ACTION Lamp
        DO
            PUBLISH TOPIC "Lamp" WITH "true"
        DESCRIPTION "Turns Lamp On"
        """
    )


def test_every_set_separator_becomes_with():
    check(
        """
        DEFINE ACTION A
        ON START DO
            SET "a" TO 1
            SET "b" AS 2
            SET "c" = 3
            SET "d" USING 4
            SET "e" WITH 5
        """,
        """
        DEFINE ACTION A
        ON START DO
            SET "a" WITH 1
            SET "b" WITH 2
            SET "c" WITH 3
            SET "d" WITH 4
            SET "e" WITH 5
        """,
    )


def test_if_else_if_else_nested_and_inline():
    check(
        """
        DEFINE ACTION Dosing
        ON TOPIC "pool/ph" DO
            SET "ph" WITH PAYLOAD AS DOUBLE
            IF {ph} < 6.5 THEN
                PUBLISH TOPIC "pool/dosing" WITH "base"
            ELSE IF {ph} > 7.8 THEN
                IF {ph} > 9 THEN
                    PUBLISH TOPIC "pool/alarm" WITH "high"
                ELSE
                    PUBLISH TOPIC "pool/dosing" WITH "acid"
            ELSE
                IF {ph} == 7 THEN PUBLISH TOPIC "pool/ok" WITH TRUE
                IF {ph} > 7 THEN SET "d" WITH "up" ELSE SET "d" WITH "down"
        """
    )


def test_inline_if_spacing_is_normalised():
    check(
        """
        DEFINE ACTION A
        ON START DO
            IF   {x}>1   THEN   SET "y" TO 2   ELSE   KEEP TOPIC "t" WITH 3
        """,
        """
        DEFINE ACTION A
        ON START DO
            IF {x} > 1 THEN SET "y" WITH 2 ELSE KEEP TOPIC "t" WITH 3
        """,
    )


def test_switch_and_loop():
    check(
        """
        DEFINE ACTION Modes
        ON TOPIC "mode" DO
            SWITCH PAYLOAD
                CASE "a" THEN
                    SET "n" WITH 1
                CASE "b" THEN
                    SET "n" WITH 2
                DEFAULT
                    SET "n" WITH 0
            LOOP
                SET "n" WITH {n} + 1
            UNTIL {n} >= 10
        """,
        """
        DEFINE ACTION Modes
        ON TOPIC "mode" DO
            SWITCH PAYLOAD
                CASE "a" THEN
                    SET "n" WITH 1
                CASE "b" THEN
                    SET "n" WITH 2
                DEFAULT THEN
                    SET "n" WITH 0
            LOOP
                SET "n" WITH {n} + 1
            UNTIL {n} >= 10
        """,
    )


def test_calls_go_on_one_line():
    check(
        """
        DEFINE ACTION Calls
        ON TOPIC "cellar/climate" DO
            CALL ACTION DewPoint
                WITH tempC = {t},relHum = {h}
                RETURN dew,wet
            CALL ACTION Ping
            CALL PYTHON "HiveMath.spread" WITH ({w1},{w2}) RETURN AS {stats}
            CALL PYTHON "Tools.now" WITH () RETURN AS {now}
            CALL PYTHON "Tools.fire"
            CALL MCP "Files.read" WITH (path = "/tmp/x") RETURN AS {text}
            CALL LLM "Ollama" METHOD "chat" WITH prompt = "hi", t = 0.2
                RETURN AS {a}
            CALL AGENT "Helper" METHOD "ask" WITH question = {q} RETURN AS {reply}
        """,
        """
        DEFINE ACTION Calls
        ON TOPIC "cellar/climate" DO
            CALL ACTION DewPoint WITH tempC = {t}, relHum = {h} RETURN dew, wet
            CALL ACTION Ping
            CALL PYTHON "HiveMath.spread" WITH ({w1}, {w2}) RETURN AS {stats}
            CALL PYTHON "Tools.now" WITH () RETURN AS {now}
            CALL PYTHON "Tools.fire"
            CALL MCP "Files.read" WITH (path = "/tmp/x") RETURN AS {text}
            CALL LLM "Ollama" METHOD "chat" WITH prompt = "hi", t = 0.2 RETURN AS {a}
            CALL AGENT "Helper" METHOD "ask" WITH question = {q} RETURN AS {reply}
        """,
    )


def test_publish_model_puts_one_field_per_line():
    check(
        """
        DEFINE ACTION SiloPublisher
        ON TOPIC "quarry/silo/+/level" DO
            PUBLISH MODEL Silo TO "quarry/" + {silo} WITH siloId = {silo}, fill = 1
            PUBLISH MODEL "Quoted" TO "t" WITH
                limits.maxFlow   = 40,
                lowLevel = ({pct} < 15)
            PUBLISH MODEL Empty TO "t"
        """,
        """
        DEFINE ACTION SiloPublisher
        ON TOPIC "quarry/silo/+/level" DO
            PUBLISH MODEL Silo TO "quarry/" + {silo} WITH
                siloId = {silo}
                fill = 1
            PUBLISH MODEL "Quoted" TO "t" WITH
                limits.maxFlow = 40
                lowLevel = ({pct} < 15)
            PUBLISH MODEL Empty TO "t"
        """,
    )


def test_trigger_and_env_statements():
    check(
        """
        DEFINE ACTION Misc
        ON TOPIC "x" DO
            TRIGGER "LogEvent" TO "Db" WITH PAYLOAD FOR "Mapping"
            TRIGGER "LogEvent" TO {route}
            KEEP ENV "MODE" WITH "auto"
            KEEP SECRET "TOKEN" WITH PAYLOAD
            DELETE ENV "MODE"
            DELETE SECRET "TOKEN"
        """
    )


# ----------------------------------------------------------------- expressions


def test_expressions_print_their_tokens_with_single_spaces():
    check(
        """
        DEFINE ACTION Exprs
        ON TOPIC "a/+/b" DO
            SET "a" WITH -{x}*2+-3 - - 4
            SET "b" WITH NOT ({x}==1 OR {y}!=2) AND {z} NOT EQUALS "q"
            SET "c" WITH GET TOPIC "memo/" + {pump} + "/max" AS DOUBLE
            SET "d" WITH (GET JSON "a.b[0]" IN PAYLOAD AS DOUBLE) * 2
            SET "e" WITH PAYLOAD AND_THEN FILTER USING REGEX "[0-9.]+" AND_THEN TRIM
            SET "f" WITH REPLACE "\\n" WITH " " IN PAYLOAD
            SET "g" WITH {s} AND_THEN REPLACE "a" WITH "b" AND_THEN SPLIT USING CSV
            SET "h" WITH SPLIT PAYLOAD USING CSV
            SET "i" WITH TRIM PAYLOAD + FILTER {x} USING REGEX "\\d+"
            SET "j" WITH IF {x} > 1 THEN "big" ELSE "small"
            SET "k" WITH {"zone": {z}, "ok": true, "n": {"m": 1}}
            SET "l" WITH {}
            SET "m" WITH RANDOM BETWEEN -5 AND 10
            SET "n" WITH RANDOM INT BETWEEN 1 AND 6
            SET "o" WITH RANDOM UUID
            SET "p" WITH GET ENV "HOME" + GET SECRET "KEY"
            SET "q" WITH GET MODEL "Machine" FROM "Db" WHERE id EQUALS {x}
            SET "r" WITH TOPIC POSITION 2 CONTAINS "x" OR PAYLOAD STARTS_WITH "y"
            SET "s" WITH TIMESTAMP WITH "yyyy" + TIMESTAMP "UTC" + EMPTY
            SET "t" WITH PAYLOAD AS TIMESTAMP "yyyy-MM-dd"
            SET "u" WITH 10 % 3 / 1.5 ENDS_WITH "5"
        """,
        """
        DEFINE ACTION Exprs
        ON TOPIC "a/+/b" DO
            SET "a" WITH -{x} * 2 + -3 - -4
            SET "b" WITH NOT ({x} == 1 OR {y} != 2) AND {z} NOT EQUALS "q"
            SET "c" WITH GET TOPIC "memo/" + {pump} + "/max" AS DOUBLE
            SET "d" WITH (GET JSON "a.b[0]" IN PAYLOAD AS DOUBLE) * 2
            SET "e" WITH PAYLOAD AND_THEN FILTER USING REGEX "[0-9.]+" AND_THEN TRIM
            SET "f" WITH REPLACE "\\n" WITH " " IN PAYLOAD
            SET "g" WITH {s} AND_THEN REPLACE "a" WITH "b" AND_THEN SPLIT USING CSV
            SET "h" WITH SPLIT PAYLOAD USING CSV
            SET "i" WITH TRIM PAYLOAD + FILTER {x} USING REGEX "\\d+"
            SET "j" WITH IF {x} > 1 THEN "big" ELSE "small"
            SET "k" WITH {"zone": {z}, "ok": true, "n": {"m": 1}}
            SET "l" WITH {}
            SET "m" WITH RANDOM BETWEEN -5 AND 10
            SET "n" WITH RANDOM INT BETWEEN 1 AND 6
            SET "o" WITH RANDOM UUID
            SET "p" WITH GET ENV "HOME" + GET SECRET "KEY"
            SET "q" WITH GET MODEL "Machine" FROM "Db" WHERE id EQUALS {x}
            SET "r" WITH TOPIC POSITION 2 CONTAINS "x" OR PAYLOAD STARTS_WITH "y"
            SET "s" WITH TIMESTAMP "yyyy" + TIMESTAMP "UTC" + EMPTY
            SET "t" WITH PAYLOAD AS TIMESTAMP "yyyy-MM-dd"
            SET "u" WITH 10 % 3 / 1.5 ENDS_WITH "5"
        """,
    )


def test_double_minus_never_becomes_a_comment():
    out = check(
        """
        DEFINE ACTION A
        ON START DO
            SET "x" WITH -(-1)
            SET "y" WITH - -1
        """
    )
    assert "--" not in out


def test_session_values_and_multiline_values_are_joined():
    check(
        """
        DEFINE ACTION Watch
        ON CONNECT DO
            PUBLISH TOPIC "audit" WITH CLIENTID + " via " +
                ENDPOINT + " as " + USER
            SET "j" WITH {
                "a": 1,
                "b": 2
            }
        """,
        """
        DEFINE ACTION Watch
        ON CONNECT DO
            PUBLISH TOPIC "audit" WITH CLIENTID + " via " + ENDPOINT + " as " + USER
            SET "j" WITH {"a": 1, "b": 2}
        """,
    )


# ---------------------------------------------------------------------- models


def test_models_with_options_nested_objects_and_collections():
    check(
        """
        DEFINE MODEL DosingPump   COLLAPSED FROM PumpBase WITH TOPIC "p/base"
            ADD STRING  "chemical"  WITH "chlorine"
            ADD OBJECT "limits"
                ADD DOUBLE "minFlow"
                ADD OBJECT "alarm"
                    ADD BOOL "on" WITH FALSE
            ADD ARRAY "samples"
            ADD DOUBLE "airTemp" WITH TOPIC "freezer/air" AS TRIGGER
            ADD DOUBLE "coil" WITH TOPIC "freezer/coil"
            ADD TIMESTAMP "at" WITH TIMESTAMP "UTC"
            ADD STRING "id" WITH RANDOM UUID
            ADD INT "pos" WITH TOPIC POSITION 2
            ADD COLLECTION "pumps" OF DosingPump
            ADD COLLECTION "others" OF "Other"
            STORE IN "Db" WITH TABLE "pumps" WHEN {chemical} == "x"
            STORE IN "Db" WITH TABLE "all"
            FETCH FROM "Db" WITH TABLE "pumps" WHEN id EQUALS "v" LIMIT 10
            FETCH FROM "Db" WITH TABLE "pumps"
        """,
        """
        DEFINE MODEL DosingPump COLLAPSED FROM PumpBase WITH TOPIC "p/base"
            ADD STRING "chemical" WITH "chlorine"
            ADD OBJECT "limits"
                ADD DOUBLE "minFlow"
                ADD OBJECT "alarm"
                    ADD BOOL "on" WITH FALSE
            ADD ARRAY "samples"
            ADD DOUBLE "airTemp" WITH TOPIC "freezer/air" AS TRIGGER
            ADD DOUBLE "coil" WITH TOPIC "freezer/coil"
            ADD TIMESTAMP "at" WITH TIMESTAMP "UTC"
            ADD STRING "id" WITH RANDOM UUID
            ADD INT "pos" WITH TOPIC POSITION 2
            ADD COLLECTION "pumps" OF DosingPump
            ADD COLLECTION "others" OF "Other"
            STORE IN "Db" WITH TABLE "pumps" WHEN {chemical} == "x"
            STORE IN "Db" WITH TABLE "all"
            FETCH FROM "Db" WITH TABLE "pumps" WHEN id EQUALS "v" LIMIT 10
            FETCH FROM "Db" WITH TABLE "pumps"
        """,
    )


def test_model_retain_qos_format_and_legacy_joiner():
    check(
        """
        DEFINE MODEL A WITH TOPIC "a" WITH RETAIN AND QOS1
            ADD STRING "x"
        DEFINE MODEL B COLLAPSED KEEP QOS2 WITH FORMAT PROTOBUF
            ADD STRING "x"
        DEFINE MODEL C RETAIN WITH FORMAT JSON
            ADD STRING "x"
        DEFINE MODEL Bare
        """,
        """
        DEFINE MODEL A WITH TOPIC "a" WITH RETAIN AND QOS1
            ADD STRING "x"

        DEFINE MODEL B COLLAPSED WITH RETAIN QOS2 WITH FORMAT PROTOBUF
            ADD STRING "x"

        DEFINE MODEL C WITH RETAIN WITH FORMAT JSON
            ADD STRING "x"

        DEFINE MODEL Bare
        """,
    )


def test_legacy_untyped_model_fields_keep_bare_names():
    check(
        """
        DEFINE MODEL BoilerEfficiency WITH TOPIC "boiler/b1/efficiency"
            ADD "fuelKw" WITH TOPIC "boiler/b1/fuel" AS TRIGGER
            ADD "heatKw" WITH TOPIC "boiler/b1/heat"
            ADD "ratio" WITH (heatKw / fuelKw)
            ADD "label" WITH "B1"
        """
    )


def test_legacy_type_names_become_canonical():
    check(
        """
        DEFINE MODEL Tank
            ADD NUMBER "level"
        """,
        """
        DEFINE MODEL Tank
            ADD DOUBLE "level"
        """,
    )


# ---------------------------------------------------------------------- routes


def test_route_blocks_settings_and_tags_indent_by_level():
    check(
        """
        DEFINE ROUTE Plc WITH TYPE MODBUS_TCP
          ADD MODBUS_CONFIG
            WITH HOST "10.0.0.5"
            WITH PORT 502
            WITH BROKER_PORT '1883'
            WITH USE_SSL true
            WITH MODE SERIAL
            WITH OFFSET -1
          ADD MAPPING Registers
            WITH EVERY 5 SECONDS
            ADD TAG Temperature
              WITH ADDRESS 100
              WITH TYPE "holding"
          ADD MAPPING "Quoted"
            ADD TAG "T2"
              WITH ADDRESS 101
        """,
        """
        DEFINE ROUTE Plc WITH TYPE MODBUS_TCP
            ADD MODBUS_CONFIG
                WITH HOST "10.0.0.5"
                WITH PORT 502
                WITH BROKER_PORT '1883'
                WITH USE_SSL true
                WITH MODE SERIAL
                WITH OFFSET -1
            ADD MAPPING Registers
                WITH EVERY 5 SECONDS
                ADD TAG Temperature
                    WITH ADDRESS 100
                    WITH TYPE "holding"
            ADD MAPPING "Quoted"
                ADD TAG "T2"
                    WITH ADDRESS 101
        """,
    )


def test_route_events_env_secret_broker_self_and_store():
    check(
        r"""
        DEFINE ROUTE OvenLineDb WITH TYPE POSTGRESQL
            ADD SQL_CONFIG
                WITH SERVER GET ENV "BAKERY_DB_HOST"
                WITH PASSWORD GET SECRET "BAKERY_DB_PASS"
                WITH PATTERN "\d+\.csv"
            ADD EVENT LogOvenTemp
                WITH SOURCE_TOPIC "bakery/oven/+/temp"
                WITH QUERY "INSERT INTO t VALUES ('{topic.3}', {payload})"
            ADD MQTT_CONFIG
                WITH BROKER SELF
            STORE Archive WITH TABLE_NAME "ovens"
        """
    )


# ----------------------------------------------------------------------- rules


def test_rules_of_every_form():
    check(
        """
        DEFINE RULE Techs   WITH PRIORITY 150 FOR Publish TO TOPIC "hvac/+/setpoint"
            IF USER HAS HvacTechnician OR USER IS "facility-admin" THEN
                ALLOW
            ELSE
                DENY
        DEFINE RULE Kiosk WITH PRIORITY 160 FOR Subscribe
            IF CLIENTID IS TOPIC POSITION 2 THEN ALLOW ELSE DENY
        DEFINE RULE NoShell WITH PRIORITY 100 FOR ShellCommand DENY
        DEFINE RULE Open WITH PRIORITY 200 FOR Connect
            ALLOW
        DEFINE RULE Mixed WITH PRIORITY 170
            IF NOT (USER HAS "Q" AND USER IN GROUP "") OR CLIENTID MATCHES REGEX "" THEN
                ALLOW
            ELSE
                DENY
        DEFINE RULE Grants WITH PRIORITY -1 FOR Publish
            IF TOPIC EXISTS "g/" + TOPIC POSITION 2 AND GET TOPIC USER IS "on" THEN
                ALLOW
            ELSE
                DENY
        """,
        """
        DEFINE RULE Techs WITH PRIORITY 150 FOR Publish TO TOPIC "hvac/+/setpoint"
            IF USER HAS HvacTechnician OR USER IS "facility-admin" THEN
                ALLOW
            ELSE
                DENY

        DEFINE RULE Kiosk WITH PRIORITY 160 FOR Subscribe
            IF CLIENTID IS TOPIC POSITION 2 THEN ALLOW ELSE DENY

        DEFINE RULE NoShell WITH PRIORITY 100 FOR ShellCommand DENY

        DEFINE RULE Open WITH PRIORITY 200 FOR Connect
            ALLOW

        DEFINE RULE Mixed WITH PRIORITY 170
            IF NOT (USER HAS "Q" AND USER IN GROUP "") OR CLIENTID MATCHES REGEX "" THEN
                ALLOW
            ELSE
                DENY

        DEFINE RULE Grants WITH PRIORITY -1 FOR Publish
            IF TOPIC EXISTS "g/" + TOPIC POSITION 2 AND GET TOPIC USER IS "on" THEN
                ALLOW
            ELSE
                DENY
        """,
    )


# -------------------------------------------------------------------- comments


def test_comments_in_every_position():
    check(
        """
        // file header

        /* a block
           comment */
        DEFINE ACTION   A   ON START DO   // header trailing
            SET "x" TO 1     -- trailing on a statement
              // deeper own-line comment
            IF {x} > 1 THEN   // on the IF line
                // inside the IF
                SET "y" WITH 2
            // before ELSE
            ELSE
                SET "y" WITH /* mid-line */ 3
            CALL ACTION B   // first line
                WITH a = 1  // second line
        // between entities
        DEFINE MODEL M   // on the model
            // before a field
            ADD STRING "s"   -- field note
        // the end
        """,
        """
        // file header

        /* a block
           comment */
        DEFINE ACTION A
        ON START DO  // header trailing
            SET "x" WITH 1  -- trailing on a statement
            // deeper own-line comment
            IF {x} > 1 THEN  // on the IF line
                // inside the IF
                SET "y" WITH 2
            // before ELSE
            ELSE
                SET "y" WITH 3  /* mid-line */
            CALL ACTION B WITH a = 1  // first line  // second line

        // between entities
        DEFINE MODEL M  // on the model
            // before a field
            ADD STRING "s"  -- field note
        // the end
        """,
    )


def test_comments_in_routes_rules_and_callable_headers():
    check(
        """
        DEFINE ACTION Callee
        // about the inputs
        INPUT a AS INT  // the first input
        DO  // body follows
            SET "r" WITH {a}
        // the outputs
        RETURN  // returns
            OUTPUT r  // the result

        DEFINE ROUTE R WITH TYPE EMAIL  // mail
            // config
            ADD SMTP_CONFIG  // smtp
                WITH PORT 587  // port

        DEFINE RULE X WITH PRIORITY 150 FOR Publish
            // condition
            IF USER IS "a" THEN  // when
                ALLOW  // yes
            ELSE  // otherwise
                DENY  // no
        """
    )


def test_a_block_comment_before_code_on_its_line_stays_before_it():
    # A comment counts as spaces for indentation, so `/**/` fills the 4 columns.
    check(
        'DEFINE ACTION A\nON START DO\n/**/SET "x" WITH 1\n    SET "y" WITH 2\n',
        'DEFINE ACTION A\nON START DO\n    /**/\n    SET "x" WITH 1\n'
        '    SET "y" WITH 2\n',
    )


def test_blank_lines_between_statements_are_kept_once():
    check(
        """


        DEFINE ACTION A

        ON START DO

            SET "x" WITH 1



            SET "y" WITH 2
            IF 1 THEN

                SET "z" WITH 3

            SET "w" WITH 4



        DEFINE ACTION B
        ON START DO
            SET "x" WITH 1
        """,
        """
        DEFINE ACTION A
        ON START DO
            SET "x" WITH 1

            SET "y" WITH 2
            IF 1 THEN
                SET "z" WITH 3

            SET "w" WITH 4

        DEFINE ACTION B
        ON START DO
            SET "x" WITH 1
        """,
    )


def test_trailing_comment_text_is_kept_verbatim():
    out = check(
        """
        DEFINE ACTION A
        ON START DO
            SET "x" WITH "a -- b // c"   //   spaced   text
        """,
        """
        DEFINE ACTION A
        ON START DO
            SET "x" WITH "a -- b // c"  //   spaced   text
        """,
    )
    assert out.count("//") == 2


# ----------------------------------------------------------------- whole files


def test_line_ends_trailing_spaces_and_final_newline():
    source = 'DEFINE ACTION A\r\nON START DO   \r\n    SET "x" WITH 1   \r\n\r\n\r\n'
    assert fmt(source) == 'DEFINE ACTION A\nON START DO\n    SET "x" WITH 1\n'
    assert fmt('DEFINE ACTION A\nON START DO\n    SET "x" WITH 1') == (
        'DEFINE ACTION A\nON START DO\n    SET "x" WITH 1\n'
    )


def test_empty_and_comment_only_files():
    assert fmt("") == ""
    assert fmt("\n\n  \n") == ""
    assert fmt("// only a comment\n\n\n-- and another  \n") == (
        "// only a comment\n\n-- and another\n"
    )


def test_tab_indentation_is_rewritten():
    source = 'DEFINE ACTION A\nON START DO\n\tSET "x" WITH 1\n\tIF 1 THEN\n'
    source += '\t\tSET "y" WITH 2\n'
    assert fmt(source) == (
        'DEFINE ACTION A\nON START DO\n    SET "x" WITH 1\n'
        '    IF 1 THEN\n        SET "y" WITH 2\n'
    )


def test_two_space_indentation_is_rewritten():
    check(
        """
        DEFINE ACTION A
        ON START DO
          IF 1 THEN
            SET "y" WITH 2
        """,
        """
        DEFINE ACTION A
        ON START DO
            IF 1 THEN
                SET "y" WITH 2
        """,
    )


def test_unsupported_entities_are_copied_unchanged():
    check(
        """
        DEFINE ACTION A
        ON START DO
            SET "x" WITH 1
        DEFINE PANEL "Dash"
            whatever   it says  // here


              stays
        DEFINE MODEL M
            ADD STRING "s"
        """,
        """
        DEFINE ACTION A
        ON START DO
            SET "x" WITH 1

        DEFINE PANEL "Dash"
            whatever   it says  // here


              stays

        DEFINE MODEL M
            ADD STRING "s"
        """,
    )


@pytest.mark.parametrize(
    "source",
    [
        'DEFINE ACTION A\nON START\n    SET "x" WITH 1\n',  # missing DO
        'DEFINE ACTION A\nON START DO\n    SET "x" WITH 1\nEND\n',
        '    DEFINE ACTION A\nON START DO\n    SET "x" WITH 1\n',
        'DEFINE ACTION A\nON START DO\n    SET "x WITH 1\n',
        "DEFINE ROUTE R\n    ADD X\n",  # no WITH TYPE: an LOT0xx error
        'DEFINE RULE R WITH PRIORITY 1 FOR Publish\n    IF USER IS "a" THEN ALLOW\n',
    ],
)
def test_files_with_syntax_errors_are_not_formatted(source):
    assert fmt(source) is None


# ----------------------------------------------------------------- format_paths


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


UGLY = 'DEFINE ACTION A ON START DO\n  SET "x" TO 1\n'
PRETTY = 'DEFINE ACTION A\nON START DO\n    SET "x" WITH 1\n'


def test_format_paths_rewrites_folders_recursively(tmp_path, capsys):
    ugly = _write(tmp_path, "sub/ugly.lot", UGLY)
    pretty = _write(tmp_path, "pretty.lot", PRETTY)
    _write(tmp_path, "notes.txt", UGLY)
    _write(tmp_path, "book.lotnb", '{"cells": []}')

    assert format_paths([str(tmp_path)], check_only=False) == 0
    assert ugly.read_text() == PRETTY
    assert pretty.read_text() == PRETTY
    assert (tmp_path / "notes.txt").read_text() == UGLY
    err = capsys.readouterr().err
    assert "skipping notebook" in err
    assert err.strip().endswith("1 file reformatted, 1 file already formatted")

    assert format_paths([str(tmp_path)], check_only=True) == 0


def test_format_paths_check_only_reports_and_leaves_files(tmp_path, capsys):
    ugly = _write(tmp_path, "ugly.lot", UGLY)
    assert format_paths([str(ugly)], check_only=True) == 1
    assert ugly.read_text() == UGLY
    err = capsys.readouterr().err
    assert f"would reformat {ugly}" in err
    assert "1 file would be reformatted" in err


def test_format_paths_reports_syntax_errors_and_goes_on(tmp_path, capsys):
    broken = _write(
        tmp_path, "a_broken.lot", 'DEFINE ACTION A\nON START\n    SET "x"\n'
    )
    ugly = _write(tmp_path, "b_ugly.lot", UGLY)
    assert format_paths([str(tmp_path)], check_only=False) == 1
    assert ugly.read_text() == PRETTY
    err = capsys.readouterr().err
    assert f"lotc: {broken} has syntax errors; run lotc check {broken}" in err
    assert "1 file with errors" in err


def test_format_paths_survives_unreadable_and_non_utf8_files(tmp_path, capsys):
    _write(tmp_path, "x.lot", "")
    (tmp_path / "bad.lot").write_bytes(b"DEFINE ACTION \xff\n")
    assert format_paths([str(tmp_path)], check_only=False) == 1
    assert "cannot read" in capsys.readouterr().err


def test_format_paths_refuses_output_that_changes_the_tree(
    tmp_path, capsys, monkeypatch
):
    # Stand in for a formatter bug: output that parses to another tree must
    # never be written; the safety check refuses it as an internal error.
    import lotc.frontend.formatter as formatter

    text = 'DEFINE ACTION A\nON START DO\n    SET "a" WITH 1 + 2 * 3\n'
    wrong = 'DEFINE ACTION A\nON START DO\n    SET "a" WITH (1 + 2) * 3\n'
    monkeypatch.setattr(formatter, "format_source", lambda source: wrong)
    path = _write(tmp_path, "bug.lot", text)
    assert format_paths([str(path)], check_only=False) == 2
    assert path.read_text() == text
    assert "internal error" in capsys.readouterr().err


def test_crlf_files_count_as_changed(tmp_path):
    path = _write(tmp_path, "crlf.lot", PRETTY.replace("\n", "\r\n"))
    assert format_paths([str(path)], check_only=True) == 1
    assert format_paths([str(path)], check_only=False) == 0
    assert path.read_bytes() == PRETTY.encode()


def test_cli_fmt(tmp_path, capsys):
    path = _write(tmp_path, "a.lot", UGLY)
    assert main(["fmt", "--check", str(path)]) == 1
    assert main(["fmt", str(path)]) == 0
    assert path.read_text() == PRETTY
    assert main(["fmt", str(tmp_path / "missing.lot")]) != 0


# ---------------------------------------------------------------------- corpus


def _corpus_files() -> list[Path]:
    from conftest import CORPUS

    return sorted(CORPUS.glob("**/*.lot"))


def _formattable_corpus_files() -> list[Path]:
    """The corpus files without syntax errors: the ones the formatter takes."""
    return [
        p
        for p in _corpus_files()
        if fmt(p.read_bytes().decode("utf-8", errors="replace")) is not None
    ]


@pytest.mark.parametrize(
    "path",
    _formattable_corpus_files(),
    ids=lambda p: f"{p.parent.name[19:]}/{p.name}",
)
def test_corpus_files_format_stably_and_keep_their_tree(path):
    text = path.read_bytes().decode("utf-8", errors="replace")
    out = fmt(text)
    assert fmt(out) == out, "formatting is not idempotent"
    assert tree(out) == tree(text), "formatting changed the tree"
    source = SourceFile(path.name, text)
    assert _comment_texts(SourceFile("out", out)) == _comment_texts(source)
    assert all(line == line.rstrip() for line in out.split("\n"))


def _comment_texts(source: SourceFile) -> list[str]:
    """Every word of every comment: comments may move, but none is lost."""
    return sorted(" ".join(c.text for c in source.comments).split())


def test_the_corpus_mostly_formats():
    outcomes = [
        fmt(p.read_bytes().decode("utf-8", errors="replace")) for p in _corpus_files()
    ]
    assert sum(out is not None for out in outcomes) >= 240
