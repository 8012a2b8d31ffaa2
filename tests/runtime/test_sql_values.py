"""The SQL routes' value path: fast paths give what the plain ones give."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lot_runtime.routes.sql_values import BadValue, converter, parse_json, row_maker

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(JSON_VALUES, st.sampled_from(["", " ", "\n", "\t\r\n "]))
def test_parse_json_reads_what_json_loads_reads(value, space):
    payload = (json.dumps(value) + space).encode()

    assert repr(parse_json(payload)) == repr(json.loads(payload))


@pytest.mark.parametrize(
    "payload",
    [b"", b" {}", b"{} x", b"{}\x0b", b"{'a': 1}", b"\xff{}", b"[1,", b"NaNx"],
)
def test_parse_json_fails_or_succeeds_as_json_loads_does(payload):
    try:
        expected = repr(json.loads(payload))
    except ValueError as exc:
        with pytest.raises(type(exc)):
            parse_json(payload)
    else:
        assert repr(parse_json(payload)) == expected


def test_parse_json_reads_other_encodings_as_json_loads_does():
    payload = '{"a": "ü"}'.encode("utf-16")

    assert parse_json(payload) == json.loads(payload) == {"a": "ü"}


TYPES = ("timestamptz", "text", "int4", "float8", "numeric", "bool", "jsonb")
PARAMETERS = tuple(((f"value.json.{t}",), None) for t in TYPES)


def make_row():
    converters = [
        converter(t, json_source=True, label=f"${i}") for i, t in enumerate(TYPES, 1)
    ]
    return row_maker(PARAMETERS, {}, converters), converters


def test_a_good_row_is_converted_as_each_checked_converter_does():
    make, converters = make_row()
    sample = {
        "timestamptz": "2026-04-02 07:45:12.250",
        "text": "o'brien",
        "int4": "12",
        "float8": 21.5,
        "numeric": 21.7,
        "bool": "on",
        "jsonb": {"a": [1]},
    }

    row = make("t", json.dumps(sample).encode(), 0.0)

    assert row == tuple(c(sample[t]) for c, t in zip(converters, TYPES, strict=True))
    assert row[0] == dt.datetime(2026, 4, 2, 7, 45, 12, 250000, tzinfo=dt.UTC)
    assert make("t", b'{"text": "x"}', 0.0) == (None, "x", None, None, None, None, None)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("int4", "12.5", "$3: not a whole number for int4"),
        ("int4", 2**40, "$3: out of range for int4"),
        ("float8", "warm", "$4: not a valid float8: ValueError"),
        ("timestamptz", "yesterday", "$1: not a valid timestamptz: ValueError"),
        ("bool", "maybe", "$6: not a valid boolean"),
        ("text", "a\x00b", "$2: text with a NUL character"),
    ],
)
def test_a_bad_value_gives_the_checked_converters_reason(field, value, reason):
    make, _ = make_row()

    with pytest.raises(BadValue) as caught:
        make("t", json.dumps({field: value}).encode(), 0.0)

    assert str(caught.value) == reason


def test_a_payload_that_is_not_json_is_a_bad_value():
    make, _ = make_row()

    with pytest.raises(BadValue, match="the payload is not JSON"):
        make("t", b"{nope", 0.0)


@pytest.mark.parametrize(
    "text", ["2026-04-02 07:45:12", "2026-04-02T07:45:12.5", "2026-04-02", "2026-04"]
)
def test_a_timestamp_without_an_offset_is_utc(text):
    convert = converter("timestamptz")

    try:
        expected = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    except ValueError:
        with pytest.raises(BadValue):
            convert(text)
    else:
        assert convert(text) == expected
        assert convert(text).tzinfo is dt.UTC
