"""Topic filters, publish targets and constant folding (lotc.frontend.topics)."""

from __future__ import annotations

import pytest
from helpers import diagnostics, only_entity

from lotc.frontend import ast
from lotc.frontend.patterns import covers, overlap
from lotc.frontend.topics import fold


def found(text: str, prefix: str = "LOT3") -> list[tuple[str, int, int]]:
    """(code, line, column) of every topic diagnostic for ``text``."""
    return [
        (d.code, d.span.line, d.span.column)
        for d in diagnostics(text)
        if d.code.startswith(prefix)
    ]


# ------------------------------------------------------------ filters


@pytest.mark.parametrize(
    "filter_text, column",
    [
        ("a/b+/c", 14),  # `+` inside a level
        ("a/#/c", 13),  # `#` not last
        ("a/b#", 14),  # `#` not a whole level
        ("", 10),  # empty filter: the whole literal
    ],
)
def test_invalid_trigger_filters_are_lot301_at_the_character(filter_text, column):
    text = f'DEFINE ACTION A\nON TOPIC "{filter_text}" DO\n    KEEP TOPIC "k" WITH 1\n'
    assert found(text) == [("LOT301", 2, column)]


def test_caret_counts_escapes_in_the_raw_literal():
    text = 'DEFINE ACTION A\nON TOPIC "\\u0061/#/c" DO\n    KEEP TOPIC "k" WITH 1\n'
    # `\u0061` is six columns for one character: `#` is at column 18.
    assert found(text) == [("LOT301", 2, 18)]


@pytest.mark.parametrize("filter_text", ["a//b", "/a", "a/"])
def test_empty_levels_are_a_lot303_warning(filter_text):
    text = f'DEFINE ACTION A\nON CHANGE "{filter_text}" DO\n    KEEP TOPIC "k" WITH 1\n'
    assert [code for code, _, _ in found(text)] == ["LOT303"]


@pytest.mark.parametrize("filter_text", ["#", "+", "a/+/c/#", "$SYS/#", "a/b"])
def test_valid_filters_pass(filter_text):
    text = f'DEFINE ACTION A\nON TOPIC "{filter_text}" DO\n    KEEP TOPIC "k" WITH 1\n'
    assert found(text) == []


def test_model_and_field_topics_are_filters():
    text = (
        'DEFINE MODEL M COLLAPSED WITH TOPIC "m/#/x"\n'
        '    ADD DOUBLE "t" WITH TOPIC "m/t+" AS TRIGGER\n'
    )
    assert found(text, "LOT301") == [("LOT301", 1, 40), ("LOT301", 2, 35)]


def test_route_source_topic_is_a_filter():
    text = (
        "DEFINE ROUTE Db WITH TYPE POSTGRESQL\n"
        "    ADD SQL_CONFIG\n"
        '        WITH SERVER "db"\n'
        "    ADD EVENT Store\n"
        '        WITH SOURCE_TOPIC "a/#/b"\n'
        '        WITH QUERY "INSERT INTO t VALUES (1)"\n'
    )
    assert ("LOT301", 5, 30) in found(text)


# ------------------------------------------------------------ targets


def test_hash_in_a_publish_target_is_lot302():
    text = 'DEFINE ACTION A\nON EVERY 5 SECONDS DO\n    PUBLISH TOPIC "x/#" WITH 1\n'
    assert found(text) == [("LOT302", 3, 22)]


def test_plus_without_a_topic_trigger_is_lot302():
    text = 'DEFINE ACTION A\nON EVERY 5 SECONDS DO\n    KEEP TOPIC "x/+" WITH 1\n'
    assert found(text) == [("LOT302", 3, 19)]


def test_plus_is_filled_from_the_trigger_one_for_one():
    filled = (
        'DEFINE ACTION A\nON TOPIC "farm/+/soil" DO\n'
        '    PUBLISH TOPIC "farm/+/soil_alarm" WITH 1\n'
    )
    assert found(filled) == []
    too_many = (
        'DEFINE ACTION A\nON TOPIC "farm/+/soil" DO\n'
        '    PUBLISH TOPIC "farm/+/+/alarm" WITH 1\n'
    )
    assert found(too_many) == [("LOT302", 3, 27)]


def test_plus_inside_a_level_of_a_target_is_lot302():
    text = 'DEFINE ACTION A\nON TOPIC "a/+" DO\n    PUBLISH TOPIC "x/a+" WITH 1\n'
    assert found(text) == [("LOT302", 3, 23)]


def test_a_folded_variable_is_checked_and_reported_at_its_use():
    text = (
        "DEFINE ACTION A\nON EVERY 5 SECONDS DO\n"
        '    SET "t" WITH "k/#"\n'
        '    PUBLISH TOPIC {t} + "/z" WITH 1\n'
    )
    assert found(text) == [("LOT302", 4, 19)]


def test_get_topic_follows_the_same_rule():
    text = (
        "DEFINE ACTION A\nON EVERY 5 SECONDS DO\n"
        '    KEEP TOPIC "k" WITH GET TOPIC "q/+/v"\n'
    )
    assert found(text) == [("LOT302", 3, 38)]


def test_device_destination_topic_must_name_one_topic():
    text = (
        "DEFINE ROUTE Plc WITH TYPE MODBUS\n"
        "    ADD MODBUS_CONFIG\n"
        '        WITH HOST "10.0.0.2"\n'
        "    ADD MAPPING flow\n"
        "        WITH REGISTER '40011'\n"
        '        WITH DESTINATION_TOPIC "plant/+/flow"\n'
    )
    assert ("LOT302", 6, 39) in found(text)


def _bridge(source: str, destination: str, direction: str = "out") -> str:
    return (
        "DEFINE ROUTE Up WITH TYPE MQTT_BRIDGE\n"
        "    ADD SOURCE_CONFIG\n"
        "        WITH BROKER SELF\n"
        "    ADD DESTINATION_CONFIG\n"
        '        WITH BROKER_ADDRESS "hub"\n'
        "    ADD MAPPING m\n"
        f'        WITH SOURCE_TOPIC "{source}"\n'
        f'        WITH DESTINATION_TOPIC "{destination}"\n'
        f'        WITH DIRECTION "{direction}"\n'
    )


@pytest.mark.parametrize(
    "source, destination",
    [
        ("turbine/+/nacelle/#", "park7/turbine/+/nacelle/#"),
        ("a/+", "cloud/all"),  # every message lands on one topic
        ("summaries/#", "depot-north/summaries/#"),
    ],
)
def test_bridge_destinations_that_carry_the_wildcards(source, destination):
    assert found(_bridge(source, destination)) == []


@pytest.mark.parametrize(
    "source, destination, line",
    [
        ("a/+", "b/+/+", 8),
        ("a/+/b", "x/#", 8),
        ("a/#", "x/+", 8),
        ("a/+", "c", 7),  # "both" also writes SOURCE_TOPIC from DESTINATION_TOPIC
    ],
)
def test_bridge_destinations_with_wildcards_of_their_own(source, destination, line):
    direction = "both" if destination == "c" else "out"
    codes = found(_bridge(source, destination, direction))
    assert [(code, at) for code, at, _ in codes] == [("LOT302", line)]


# ------------------------------------------------------------ folding


def _action(text: str) -> ast.Action:
    return only_entity(text)


def test_fold_concatenated_literals():
    action = _action(
        'DEFINE ACTION A\nON TOPIC "x" DO\n    PUBLISH TOPIC "a/" + "b" + "/c" WITH 1\n'
    )
    assert fold(action.body[0].topic, action).constant == "a/b/c"


def test_fold_constant_variable_and_unknown_parts():
    action = _action(
        "DEFINE ACTION SummarisePump\nON EVERY 30 SECONDS DO\n"
        '    SET "pump" WITH "p-07"\n'
        '    SET "x" WITH RANDOM UUID\n'
        '    PUBLISH TOPIC "summaries/" + {pump} + "/" + {x} WITH 1\n'
    )
    pattern = fold(action.body[2].topic, action)
    assert pattern.constant is None
    assert pattern.display == "summaries/p-07/{x}"
    assert pattern.key == "summaries/p-07/+"


def test_fold_topic_position_of_a_literal_level():
    action = _action(
        'DEFINE ACTION A\nON TOPIC "plant/+/line/+" DO\n'
        '    SET "id" WITH TOPIC POSITION 2\n'
        '    PUBLISH TOPIC TOPIC POSITION 1 + "/" + {id} + "/x" WITH 1\n'
    )
    pattern = fold(action.body[1].topic, action)
    assert pattern.key == "plant/+/x"
    assert pattern.display == "plant/{id}/x"


def test_fold_variable_set_twice_to_different_values_stays_unknown():
    action = _action(
        'DEFINE ACTION A\nON TOPIC "x" DO\n'
        '    SET "t" WITH "a"\n'
        "    IF PAYLOAD == 1 THEN\n"
        '        SET "t" WITH "b"\n'
        '    PUBLISH TOPIC "k/" + {t} WITH 1\n'
    )
    assert fold(action.body[2].topic, action).key == "k/+"


def test_fold_partial_level():
    action = _action(
        'DEFINE ACTION A\nON TOPIC "x" DO\n    PUBLISH TOPIC "k/p-" + PAYLOAD WITH 1\n'
    )
    assert fold(action.body[0].topic, action).key == "k/p-*"


# ------------------------------------------------------------ overlap


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("a/+/c", "a/#", True),
        ("a/b", "a/+", True),
        ("a/#", "a", True),  # `#` also matches the parent level
        ("$SYS/#", "#", False),  # wildcards do not match `$` topics
        ("$SYS/x", "+/x", False),
        ("$SYS/x", "$SYS/+", True),
        ("a/b", "a/c", False),
        ("a/+", "a/b/c", False),
        ("+/+", "a/b", True),
        ("a/#", "b/#", False),
    ],
)
def test_overlap(a, b, expected):
    assert overlap(a, b) is expected
    assert overlap(b, a) is expected


def test_overlap_with_unknown_parts():
    action = _action(
        'DEFINE ACTION A\nON TOPIC "x" DO\n    PUBLISH TOPIC "k/p-" + PAYLOAD WITH 1\n'
    )
    pattern = fold(action.body[0].topic, action)
    assert overlap(pattern, "k/p-07")
    assert overlap(pattern, "k/+")
    assert not overlap(pattern, "k/q-07")
    assert not overlap(pattern, "k/p-07/x")


@pytest.mark.parametrize(
    "filter_text, topic, expected",
    [
        ("a/+/c", "a/b/c", True),
        ("a/#", "a/+/c", True),
        ("a/+/c", "a/#", False),
        ("+/x", "$SYS/x", False),
        ("a/b", "a/+", False),
    ],
)
def test_covers(filter_text, topic, expected):
    assert covers(filter_text, topic) is expected


def test_an_unknown_level_is_covered_only_by_a_wildcard():
    action = _action(
        'DEFINE ACTION A\nON TOPIC "x" DO\n    PUBLISH TOPIC "k/" + PAYLOAD WITH 1\n'
    )
    pattern = fold(action.body[0].topic, action)
    assert covers("k/+", pattern)
    assert not covers("k/data", pattern)
