"""Placeholders in route strings, and SQL queries rewritten to parameters."""

from __future__ import annotations

import pytest
from helpers import diagnostics

from lotc.frontend.placeholders import (
    analyse_query,
    find_placeholders,
    is_known,
    parse_clean,
    suggestion,
)


@pytest.mark.parametrize(
    "name",
    [
        "payload",
        "value",
        "payload.json",
        "value.json",
        "payload.json.a.b",
        "value.json.items.0.id",
        "payload.csv.3",
        "topic",
        "topic.2",
        "timestamp",
        "timestamp.unix",
        "timestamp.unix_ms",
        "env.DB_HOST",
        "secret.API_KEY",
    ],
)
def test_route_placeholders_are_known(name):
    assert is_known(name)


@pytest.mark.parametrize(
    "name",
    ["status", "topic.0", "topic.x", "payload.csv.0", "payload.json.", "env.", "ts"],
)
def test_other_names_are_not(name):
    assert not is_known(name)


def test_file_patterns_have_their_own_placeholders():
    assert is_known("0", file_pattern=True) and is_known("date", file_pattern=True)
    assert not is_known("payload", file_pattern=True)


def test_suggestions_keep_the_path():
    assert suggestion("paylod.json.a") == "{payload.json.a}"
    assert suggestion("timestamp.unixms") == "{timestamp.unix_ms}"
    assert suggestion("topic.0") == "{topic.1}"


def test_json_text_is_not_a_placeholder():
    found = find_placeholders('{"reading": {payload}, "at": "{timestamp}"}')
    assert [p.name for p in found] == ["payload", "timestamp"]


def test_clean_query_is_parsed():
    table, data = parse_clean("CLEAN:{table: hive_weights, data: {value.json}}")
    assert (table, data.name) == ("hive_weights", "value.json")
    assert parse_clean("CLEAN:{table: t}") is None


# --------------------------------------------------------------- SQL


def _shape(sql: str):
    template = analyse_query(sql)
    parameters = [
        ([p.name for p in q.placeholders], q.quoted, q.template)
        for q in template.parameters
    ]
    return template.sql, parameters, [p.name for p in template.identifiers]


def test_the_briefs_example():
    sql = "INSERT INTO t (a, b) VALUES ('{value.json.a}', {value.json.b})"
    assert _shape(sql) == (
        "INSERT INTO t (a, b) VALUES ($1, $2)",
        [(["value.json.a"], True, None), (["value.json.b"], False, None)],
        [],
    )


def test_other_text_in_a_literal_becomes_a_template():
    sql = "SELECT * FROM t WHERE line = 'line-{topic.2}' AND s = 'it''s {payload}'"
    assert _shape(sql) == (
        "SELECT * FROM t WHERE line = $1 AND s = $2",
        [(["topic.2"], True, "line-{}"), (["payload"], True, "it's {}")],
        [],
    )


def test_braces_of_the_literal_are_kept_in_the_template():
    [parameter] = analyse_query("""SELECT '{"a": 1} {payload}'""").parameters
    assert parameter.template == '{{"a": 1}} {}'
    assert parameter.template.format("v") == '{"a": 1} v'


def test_injection_looking_text_stays_literal_sql():
    sql = "SELECT * FROM t WHERE a = '{payload}' AND b = '''; DROP TABLE t; --'"
    text, parameters, identifiers = _shape(sql)
    assert text == "SELECT * FROM t WHERE a = $1 AND b = '''; DROP TABLE t; --'"
    assert parameters == [(["payload"], True, None)]
    assert identifiers == []


def test_placeholders_in_comments_are_left_alone():
    sql = "SELECT {payload} -- was {topic}\n/* {value} */ FROM t"
    assert _shape(sql) == (
        "SELECT $1 -- was {topic}\n/* {value} */ FROM t",
        [(["payload"], False, None)],
        [],
    )


def test_an_escaped_quote_does_not_end_the_literal():
    assert _shape("SELECT 'a''{payload}''b'")[1] == [(["payload"], True, "a'{}'b")]


@pytest.mark.parametrize(
    ("sql", "names"),
    [
        ("SELECT * FROM {topic.2}", ["topic.2"]),
        ("INSERT INTO {payload} VALUES (1)", ["payload"]),
        ("UPDATE {topic.1} SET a = 1", ["topic.1"]),
        ("SELECT * FROM a JOIN {topic.2} ON true", ["topic.2"]),
        ('SELECT "{payload}" FROM t', ["payload"]),
        ("INSERT INTO t ({payload}, b) VALUES (1, 2)", ["payload"]),
        ("SELECT * FROM t ORDER BY {payload}", ["payload"]),
        ("SELECT {topic.2}.a FROM t", ["topic.2"]),
        ("SELECT * FROM public.{topic.2}", ["topic.2"]),
    ],
)
def test_names_cannot_be_parameters(sql, names):
    assert _shape(sql)[2] == names


def test_values_in_calls_and_lists_are_parameters():
    sql = "SELECT * FROM t WHERE a IN ({payload}, {value}) AND b = lower({topic})"
    text, parameters, identifiers = _shape(sql)
    assert text == "SELECT * FROM t WHERE a IN ($1, $2) AND b = lower($3)"
    assert identifiers == []


def test_dollar_quoted_text_is_a_literal():
    assert _shape("SELECT $$x {payload}$$")[:2] == (
        "SELECT $1",
        [(["payload"], True, "x {}")],
    )


def test_render_writes_other_parameter_styles():
    template = analyse_query("SELECT {payload}, '{topic}'")
    assert template.render(lambda index: "%s") == "SELECT %s, %s"


# --------------------------------------------------------------- checking


def _route(query: str, source: str = "line/+/reading") -> str:
    return (
        "DEFINE ROUTE Db WITH TYPE POSTGRESQL\n"
        "    ADD SQL_CONFIG\n"
        '        WITH SERVER "db"\n'
        "    ADD EVENT e\n"
        f'        WITH SOURCE_TOPIC "{source}"\n'
        f"        WITH QUERY {query}\n"
    )


def test_caret_counts_escapes_in_the_raw_string():
    [problem] = diagnostics(_route(r'"SELECT \"a\", {paylod}"'))
    # `        WITH QUERY "SELECT \"a\", ` is 34 characters.
    assert (problem.code, problem.span.column, problem.span.end_column) == (
        "LOT304",
        35,
        43,
    )


def test_topic_level_beyond_the_filter():
    [problem] = diagnostics(_route("\"SELECT '{topic.4}'\""))
    assert problem.code == "LOT305"
    assert "(3 levels)" in problem.message


def test_topic_level_under_a_hash_is_fine():
    assert diagnostics(_route("\"SELECT '{topic.9}'\"", "line/#")) == []


def test_action_variables_are_not_route_placeholders():
    [problem] = diagnostics(_route("\"UPDATE t SET s = '{status}'\""))
    assert problem.code == "LOT304"
    assert "action variables" in problem.help
