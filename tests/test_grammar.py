"""The grammar builds without conflicts, and every LoT construct parses to the
AST it means."""

from __future__ import annotations

import pytest
from helpers import codes, only_entity, parse_clean

from lotc.frontend import ast
from lotc.frontend.parser import GRAMMAR, lark_parser


def test_grammar_builds_in_strict_mode():
    lark_parser.cache_clear()
    try:
        parser = lark_parser(strict=True)
        assert parser.options.parser == "lalr"
    finally:
        lark_parser.cache_clear()


def test_grammar_is_one_file():
    assert GRAMMAR.name == "grammar.lark" and GRAMMAR.is_file()


def test_parser_is_built_once():
    assert lark_parser() is lark_parser()


# ------------------------------------------------------------------ triggers

TRIGGERS = [
    ("ON EVERY 5 SECONDS", ast.Trigger(None, "EVERY", amount="5", unit="SECONDS")),
    ("ON EVERY 1 MINUTE", ast.Trigger(None, "EVERY", amount="1", unit="MINUTE")),
    (
        "ON EVERY 250 MILLISECONDS",
        ast.Trigger(None, "EVERY", amount="250", unit="MILLISECONDS"),
    ),
    ("ON EVERY 2 HOURS", ast.Trigger(None, "EVERY", amount="2", unit="HOURS")),
    ("ON EVERY 1 DAY", ast.Trigger(None, "EVERY", amount="1", unit="DAY")),
    ("ON EVERY 3 WEEKS", ast.Trigger(None, "EVERY", amount="3", unit="WEEKS")),
    ("ON EVERY 1 MONTH", ast.Trigger(None, "EVERY", amount="1", unit="MONTH")),
    ("ON EVERY 1 YEARS", ast.Trigger(None, "EVERY", amount="1", unit="YEARS")),
]


@pytest.mark.parametrize("line,expected", TRIGGERS, ids=[t[0] for t in TRIGGERS])
def test_every_time_unit(line, expected):
    action = only_entity(f'DEFINE ACTION A\n{line} DO\n    KEEP TOPIC "a" WITH 1\n')
    trigger = action.trigger
    assert (trigger.kind, trigger.amount, trigger.unit) == (
        expected.kind,
        expected.amount,
        expected.unit,
    )


@pytest.mark.parametrize(
    "line,kind",
    [
        ('ON EVERY WEEKDAY AT "23:15"', "DAY"),
        ('ON EVERY SATURDAY AT "08:00:00"', "DAY"),
        ('ON TIMESTAMP "12:00:00"', "TIMESTAMP"),
        ('ON TIMESTAMP "01-01-2026 00:00:00"', "TIMESTAMP"),
        ('ON TOPIC "a/+/b"', "TOPIC"),
        ('ON CHANGE "a/#"', "CHANGE"),
        ("ON START", "START"),
        ("ON CONNECT", "CONNECT"),
        ("ON DISCONNECT", "DISCONNECT"),
        ("ON SUBSCRIBE", "SUBSCRIBE"),
        ('ON SUBSCRIBE "a/#"', "SUBSCRIBE"),
    ],
)
def test_trigger_kinds(line, kind):
    action = only_entity(f'DEFINE ACTION A\n{line} DO\n    KEEP TOPIC "a" WITH 1\n')
    assert action.trigger.kind == kind


def test_day_trigger_keeps_day_and_time():
    action = only_entity(
        'DEFINE ACTION A\nON EVERY WEEKEND AT "07:30" DO\n    KEEP TOPIC "a" WITH 1\n'
    )
    assert action.trigger.day == "WEEKEND"
    assert action.trigger.text.value == "07:30"


@pytest.mark.parametrize(
    "header,layout",
    [
        ('DEFINE ACTION A\nON TOPIC "x" DO\n', "lines"),
        ('DEFINE ACTION A\nON TOPIC "x"\nDO\n', "do-line"),
        ('DEFINE ACTION A ON TOPIC "x" DO\n', "define-line"),
    ],
)
def test_three_places_for_do(header, layout):
    action = only_entity(header + '    PUBLISH TOPIC "y" WITH PAYLOAD\n')
    assert action.layout == layout
    assert action.trigger.text.value == "x"


def test_callable_action_with_inputs_and_outputs():
    action = only_entity(
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
        """
    )
    assert action.trigger is None
    assert [(i.name, i.type_name) for i in action.inputs] == [
        ("tempC", "DOUBLE"),
        ("relHum", "DOUBLE"),
    ]
    assert [o.name for o in action.outputs] == ["dp", "risk"]


def test_manual_action_with_legacy_description():
    found = codes('DEFINE ACTION A\nDO\n    KEEP TOPIC "a" WITH 1\nDESCRIPTION "x"\n')
    assert found == ["LOT021"]


# ---------------------------------------------------------------- statements


def body(text: str):
    action = only_entity('DEFINE ACTION A\nON TOPIC "in/+" DO\n' + text)
    return action.body


def test_set_separators():
    statements = body('    SET "a" WITH 1\n    SET "b" TO 2\n    SET "c" AS 3\n')
    assert [s.separator for s in statements] == ["WITH", "TO", "AS"]
    assert [s.name.value for s in statements] == ["a", "b", "c"]


def test_publish_and_keep_topic():
    publish, keep = body(
        '    PUBLISH TOPIC "a/" + {x} WITH PAYLOAD\n'
        '    KEEP TOPIC "k" WITH TIMESTAMP "UTC"\n'
    )
    assert isinstance(publish, ast.PublishTopic)
    assert isinstance(publish.topic, ast.Binary) and publish.topic.operator == "+"
    assert isinstance(keep, ast.KeepTopic)
    assert isinstance(keep.value, ast.Timestamp)


def test_publish_model_with_field_lines():
    (statement,) = body(
        '    PUBLISH MODEL M TO "a/b" WITH\n'
        "        x = {x}\n"
        "        limits.max = 40,\n"
        "        ok = ({x} < 15)\n"
    )
    assert isinstance(statement, ast.PublishModel)
    assert [f.path for f in statement.fields] == [("x",), ("limits", "max"), ("ok",)]
    assert isinstance(statement.fields[2].value, ast.Paren)


def test_publish_model_quoted_name_is_accepted():
    (statement,) = body('    PUBLISH MODEL "M" TO "t" WITH\n        a = 1\n')
    assert statement.model.text == "M" and statement.model.quoted


def test_if_else_if_else_nested():
    (statement,) = body(
        "    IF {a} < 1 THEN\n"
        '        PUBLISH TOPIC "p" WITH "base"\n'
        "    ELSE IF {a} > 2 THEN\n"
        "        IF {b} THEN\n"
        '            PUBLISH TOPIC "p" WITH "x"\n'
        "    ELSE\n"
        '        PUBLISH TOPIC "p" WITH "idle"\n'
    )
    assert len(statement.branches) == 2
    assert isinstance(statement.branches[1].body[0], ast.If)
    assert statement.otherwise is not None


def test_one_line_if_with_else():
    (statement,) = body(
        '    IF {a} THEN PUBLISH TOPIC "x" WITH 1 ELSE PUBLISH TOPIC "y" WITH 2\n'
    )
    assert statement.inline and statement.otherwise


def test_switch_and_loop():
    switch, loop = body(
        "    SWITCH {mode}\n"
        '        CASE "a" THEN\n'
        '            PUBLISH TOPIC "s" WITH 1\n'
        "        DEFAULT THEN\n"
        '            PUBLISH TOPIC "s" WITH 2\n'
        "    LOOP\n"
        '        SET "i" WITH {i} + 1\n'
        "    UNTIL {i} >= 10\n"
    )
    assert isinstance(switch, ast.Switch) and len(switch.cases) == 1 and switch.default
    assert isinstance(loop, ast.Loop) and loop.until.operator == ">="


def test_call_action_over_several_lines():
    (statement,) = body(
        "    CALL ACTION DewPoint\n"
        "        WITH tempC = {t}, relHum = {h}\n"
        "        RETURN dewValue, condensation\n"
    )
    assert [a.name for a in statement.arguments] == ["tempC", "relHum"]
    assert statement.returns == ("dewValue", "condensation")


def test_call_python_inline_and_continued():
    one, two = body(
        '    CALL PYTHON "M.f" WITH ({a}, "b", 3) RETURN AS {r}\n'
        '    CALL PYTHON "M.g"\n'
        "        WITH (PAYLOAD)\n"
        "        RETURN AS {s}\n"
    )
    assert one.target.value == "M.f" and len(one.arguments) == 3 and one.result == "r"
    assert two.result == "s" and isinstance(two.arguments[0], ast.Payload)


@pytest.mark.parametrize(
    "line,kind",
    [
        ('CALL MCP "Tools.search" WITH (q = "x", n = 3) RETURN AS {r}', "MCP"),
        ('CALL LLM "Llm" METHOD "chat" WITH prompt = "hi" RETURN AS {r}', "LLM"),
        ('CALL AGENT "Helper" METHOD "ask" WITH q = PAYLOAD RETURN AS {r}', "AGENT"),
    ],
)
def test_call_services(line, kind):
    (statement,) = body("    " + line + "\n")
    assert statement.kind == kind and statement.result == "r"


def test_trigger_and_env_statements():
    trigger, keep, delete = body(
        '    TRIGGER "Store" TO Archive WITH PAYLOAD\n'
        '    KEEP SECRET "token" WITH PAYLOAD\n'
        '    DELETE ENV "mode"\n'
    )
    assert trigger.event.value == "Store"
    assert (keep.store, keep.name.value) == ("SECRET", "token")
    assert (delete.store, delete.name.value) == ("ENV", "mode")


# --------------------------------------------------------------- expressions


def value_of(expression: str):
    (statement,) = body(f'    SET "v" WITH {expression}\n')
    return statement.value


def shape(node) -> object:
    """A compact, span-free rendering of an expression tree."""
    if isinstance(node, ast.Binary):
        return (node.operator, shape(node.left), shape(node.right))
    if isinstance(node, ast.Unary):
        return (node.operator, shape(node.operand))
    if isinstance(node, ast.Cast):
        return ("AS " + node.type_name, shape(node.operand))
    if isinstance(node, ast.GetTopic):
        return ("GET TOPIC", shape(node.topic))
    if isinstance(node, ast.GetJson):
        return ("GET JSON", node.path.value, shape(node.source))
    if isinstance(node, ast.Paren):
        return ("()", shape(node.inner))
    if isinstance(node, ast.Variable):
        return "{" + node.name + "}"
    if isinstance(node, ast.Number):
        return node.text
    if isinstance(node, ast.String):
        return node.raw
    if isinstance(node, ast.Payload):
        return "PAYLOAD"
    return type(node).__name__


@pytest.mark.parametrize(
    "text,expected",
    [
        ("{a} + {b} * {c}", ("+", "{a}", ("*", "{b}", "{c}"))),
        ("{a} - {b} - {c}", ("-", ("-", "{a}", "{b}"), "{c}")),
        ("{a} OR {b} AND {c}", ("OR", "{a}", ("AND", "{b}", "{c}"))),
        ("NOT {a} == 1 AND {b}", ("AND", ("NOT", ("==", "{a}", "1")), "{b}")),
        ("{a} + 1 > {b} * 2", (">", ("+", "{a}", "1"), ("*", "{b}", "2"))),
        ("-{a} * 2", ("*", ("-", "{a}"), "2")),
        ("PAYLOAD AS DOUBLE * 2", ("*", ("AS DOUBLE", "PAYLOAD"), "2")),
        (
            'GET JSON "k" IN PAYLOAD AS INT',
            ("AS INT", ("GET JSON", "k", "PAYLOAD")),
        ),
        (
            'GET TOPIC "m/" + {p} + "/max" AS DOUBLE',
            ("AS DOUBLE", ("GET TOPIC", ("+", ("+", '"m/"', "{p}"), '"/max"'))),
        ),
        (
            'GET TOPIC "a" AS DOUBLE / GET TOPIC "b" AS DOUBLE',
            (
                "/",
                ("AS DOUBLE", ("GET TOPIC", '"a"')),
                ("AS DOUBLE", ("GET TOPIC", '"b"')),
            ),
        ),
        (
            '(GET TOPIC "c" AS INT + 1)',
            ("()", ("+", ("AS INT", ("GET TOPIC", '"c"')), "1")),
        ),
        ("{a} NOT EQUALS {b}", ("NOT EQUALS", "{a}", "{b}")),
        ('{a} CONTAINS "x"', ("CONTAINS", "{a}", '"x"')),
        ("{a} % 2 == 0", ("==", ("%", "{a}", "2"), "0")),
    ],
)
def test_precedence(text, expected):
    assert shape(value_of(text)) == expected


def test_value_forms():
    assert isinstance(value_of("RANDOM UUID"), ast.RandomUuid)
    between = value_of("RANDOM DOUBLE BETWEEN -1.5 AND 1.5")
    assert (between.kind, between.low, between.high) == ("DOUBLE", "-1.5", "1.5")
    assert isinstance(value_of('FILTER PAYLOAD USING REGEX "[0-9]+"'), ast.Filter)
    replaced = value_of('REPLACE "a" WITH "b" IN PAYLOAD')
    assert isinstance(replaced, ast.Replace) and not replaced.chained
    chained = value_of('PAYLOAD AND_THEN FILTER USING REGEX "[0-9.]+" AND_THEN TRIM')
    assert isinstance(chained, ast.Trim) and chained.chained
    assert isinstance(chained.source, ast.Filter)
    assert isinstance(value_of("TRIM {x}"), ast.Trim)
    assert isinstance(value_of('GET ENV "HOST"'), ast.GetEnv)
    assert isinstance(value_of('GET SECRET "KEY"'), ast.GetSecret)
    assert isinstance(value_of("EMPTY"), ast.Empty)
    assert value_of("true").value is True and value_of("FALSE").value is False
    assert isinstance(value_of("TOPIC POSITION 2"), ast.TopicPosition)
    assert isinstance(value_of("SPLIT PAYLOAD USING CSV"), ast.Split)


def test_if_value_continued_over_lines():
    (statement,) = body(
        '    SET "shift" WITH IF {h} >= 6 AND {h} < 14 THEN "Morning"\n'
        '                    ELSE IF {h} >= 14 THEN "Afternoon"\n'
        '                    ELSE "Night"\n'
    )
    value = statement.value
    assert isinstance(value, ast.IfValue) and isinstance(value.otherwise, ast.IfValue)


def test_json_literal_on_one_and_several_lines():
    one, several = body(
        '    PUBLISH TOPIC "t" WITH { "zone": {z}, "ok": true }\n'
        '    PUBLISH TOPIC "t" WITH {\n'
        '        "zone": {z},\n'
        '        "inner": { "a": 1 },\n'
        "    }\n"
    )
    assert [m.key.value for m in one.value.members] == ["zone", "ok"]
    assert isinstance(several.value.members[1].value, ast.JsonObject)


def test_string_escapes_are_decoded_and_regex_backslashes_kept():
    assert value_of(r'"a\nb\"c"').value == 'a\nb"c'
    assert value_of(r'"\d+"').value == r"\d+"


# -------------------------------------------------------------------- models


def test_model_schema_form_with_every_option():
    lines = [
        'DEFINE MODEL Child COLLAPSED FROM Base WITH TOPIC "c/t" RETAIN QOS1'
        " WITH FORMAT JSON",
        '    ADD STRING "id"',
        '    ADD INT "n" WITH 5',
        '    ADD DOUBLE "v" WITH TOPIC "c/v" AS TRIGGER',
        '    ADD BOOL "b" WITH TOPIC "c/b"',
        '    ADD TIMESTAMP "at" WITH TIMESTAMP "UTC"',
        '    ADD ARRAY "list"',
        '    ADD OBJECT "limits"',
        '        ADD DOUBLE "min"',
        '        ADD DOUBLE "max"',
        '    ADD COLLECTION "kids" OF Base',
        '    STORE IN "Db" WITH TABLE "t" WHEN {v} > 1',
        '    FETCH FROM "Db" WITH TABLE "t" WHEN {id} EQUALS "x" LIMIT 5',
    ]
    model = only_entity("\n".join(lines) + "\n")
    kinds = [option.kind for option in model.options]
    assert kinds == ["COLLAPSED", "FROM", "TOPIC", "RETAIN", "QOS", "FORMAT"]
    fields = [item for item in model.items if isinstance(item, ast.ModelField)]
    assert [f.type_name for f in fields] == [
        "STRING",
        "INT",
        "DOUBLE",
        "BOOL",
        "TIMESTAMP",
        "ARRAY",
        "OBJECT",
    ]
    assert fields[2].source.kind == "trigger" and fields[3].source.kind == "topic"
    assert [c.name.value for c in fields[6].children] == ["min", "max"]
    assert isinstance(model.items[7], ast.ModelCollection)
    assert isinstance(model.items[8], ast.ModelStore)
    assert model.items[9].limit == "5"


def test_legacy_untyped_model_is_accepted_with_a_warning():
    assert codes(
        'DEFINE MODEL M WITH TOPIC "m"\n    ADD "a" WITH TOPIC "a" AS TRIGGER\n'
    ) == ["LOT021"]


# -------------------------------------------------------------------- routes


def test_route_blocks_settings_and_values():
    route = only_entity(
        """
        DEFINE ROUTE Plc WITH TYPE MODBUS_TCP
            ADD MODBUS_CONFIG
                WITH HOST GET ENV "PLC_HOST"
                WITH PASSWORD GET SECRET "PLC_PASS"
                WITH PORT '502'
                WITH SLAVE_ID 3
                WITH ENABLED true
                WITH MODE SERIAL
            ADD MAPPING "Loop"
                WITH EVERY 500 MILLISECONDS
                ADD TAG SupplyTemp
                    WITH ADDRESS "200"
                    WITH SCALING 0.1
            ADD ROUTE_CONFIG
                WITH OVERLOAD_POLICY "lossless"
        """
    )
    assert route.route_type == "MODBUS_TCP"
    config, mapping, overload = route.items
    assert [(s.key, s.value.kind) for s in config.items] == [
        ("HOST", "env"),
        ("PASSWORD", "secret"),
        ("PORT", "quoted"),
        ("SLAVE_ID", "number"),
        ("ENABLED", "boolean"),
        ("MODE", "word"),
    ]
    assert mapping.name.text == "Loop" and mapping.items[0].value.kind == "every"
    assert mapping.items[1].kind == "TAG" and mapping.items[1].name.text == "SupplyTemp"
    assert overload.kind == "ROUTE_CONFIG"


def test_bridge_with_broker_self_and_legacy_store():
    route = only_entity(
        """
        DEFINE ROUTE Up WITH TYPE MQTT_BRIDGE
            ADD SOURCE_CONFIG
                WITH BROKER SELF
            ADD DESTINATION_CONFIG
                WITH BROKER_ADDRESS "hub.example"
                WITH BROKER_PORT '8883'
            ADD MAPPING up
                WITH SOURCE_TOPIC "a/#"
                WITH DESTINATION_TOPIC "site/a/#"
                WITH DIRECTION "out"
        """
    )
    assert route.items[0].items[0].value.kind == "self"
    legacy = (
        "DEFINE ROUTE R WITH TYPE FILE_STORAGE\n"
        "    ADD FILE_STORAGE_CONFIG\n"
        '        WITH STORAGE_DIR "/var/lib/lot"\n'
        '    STORE Files WITH TABLE_NAME "t"\n'
    )
    # LOT021 for the older STORE; LOT313 because R itself stores nothing.
    assert codes(legacy) == ["LOT313", "LOT021"]


# --------------------------------------------------------------------- rules


def test_rule_forms():
    block, inline, line, exists = parse_clean(
        """
        DEFINE RULE Tech WITH PRIORITY 150 FOR Publish TO TOPIC "hvac/+/setpoint"
            IF USER HAS HvacTechnician OR USER IS "admin" THEN
                ALLOW
            ELSE
                DENY

        DEFINE RULE Kiosk WITH PRIORITY 160 FOR Subscribe TO TOPIC "kiosk/+"
            IF CLIENTID IS TOPIC POSITION 2 AND NOT (USER IN GROUP "ops" OR
                CLIENTID MATCHES REGEX "^k") THEN ALLOW ELSE DENY

        DEFINE RULE NoShell WITH PRIORITY 100 FOR ShellCommand DENY

        DEFINE RULE Grants WITH PRIORITY 170 FOR Subscribe
            IF TOPIC EXISTS "grants/" + USER + "/" + TOPIC POSITION 2 THEN
                ALLOW
            ELSE
                DENY
        """
    )
    assert (block.priority, block.scope, block.topic.value) == (
        "150",
        "Publish",
        "hvac/+/setpoint",
    )
    assert (
        isinstance(block.condition, ast.RuleLogic) and block.condition.operator == "OR"
    )
    assert (block.verdict, block.otherwise) == ("ALLOW", "DENY")
    assert inline.layout == "inline" and isinstance(inline.condition.right, ast.RuleNot)
    assert line.condition is None and line.verdict == "DENY" and line.layout == "line"
    assert exists.condition.test == "EXISTS"


def test_rule_without_else_is_an_error():
    text = (
        "DEFINE RULE R WITH PRIORITY 150 FOR Publish\n"
        '    IF USER IS "a" THEN\n        ALLOW\n'
    )
    assert codes(text) == ["LOT020"]


# ---------------------------------------------------------- other entities


@pytest.mark.parametrize("kind", ["PANEL", "THEME", "VISU", "THING"])
def test_unsupported_entities_are_recognised_and_skipped(kind):
    text = f'DEFINE {kind} "Dash"\n    WITH LAYOUT "grid" COLUMNS 3\n'
    assert codes(text) == ["LOT015"]


# ---------------------------------------------------------------- lexical


def test_comments_of_every_kind_and_crlf_and_no_final_newline():
    text = (
        "// leading\r\n"
        "DEFINE ACTION A -- trailing\r\n"
        "ON START DO /* block */\r\n"
        "    /* spanning\r\n"
        "       lines */\r\n"
        '    PUBLISH TOPIC "a//b--c" WITH "x /* y */"  // trailing\r\n'
        "\r\n"
        "\r\n"
        '    KEEP TOPIC "k" WITH 1'
    )
    action = only_entity(text)
    assert action.body[0].topic.value == "a//b--c"
    assert action.body[0].value.value == "x /* y */"
    assert len(action.body) == 2


def test_blank_lines_anywhere():
    action = only_entity(
        "\n\nDEFINE ACTION A\nON START DO\n\n"
        '    KEEP TOPIC "a" WITH 1\n\n\n    KEEP TOPIC "b" WITH 2\n\n'
    )
    assert len(action.body) == 2


def test_two_space_indentation_is_accepted_with_a_warning():
    assert codes(
        'DEFINE ACTION A\nON START DO\n  IF TRUE THEN\n    KEEP TOPIC "a" WITH 1\n'
    ) == ["LOT007"]


def test_tabs_and_inconsistent_widths_are_errors():
    assert "LOT005" in codes('DEFINE ACTION A\nON START DO\n\tKEEP TOPIC "a" WITH 1\n')
    text = (
        "DEFINE ACTION A\nON START DO\n    IF TRUE THEN\n"
        '          KEEP TOPIC "a" WITH 1\n'
    )
    assert codes(text) == ["LOT006"]
    text = (
        "DEFINE ACTION A\nON START DO\n    IF TRUE THEN\n"
        '        KEEP TOPIC "a" WITH 1\n      KEEP TOPIC "b" WITH 1\n'
    )
    assert codes(text) == ["LOT006"]


def test_keywords_must_be_upper_case():
    assert codes('DEFINE ACTION A\nON START DO\n    publish TOPIC "y" WITH 1\n') == [
        "LOT008"
    ]


def test_every_entity_of_a_file_is_reported():
    text = (
        'DEFINE ACTION A\nON TOPIC "x"\n    KEEP TOPIC "y" WITH 1\n'
        'DEFINE ACTION B\nON START DO\n    KEEP TOPIC "y" MESSAGE 1\n'
        'DEFINE MODEL "C"\n    ADD STRING "a"\n'
    )
    assert codes(text) == ["LOT009", "LOT010", "LOT011"]
