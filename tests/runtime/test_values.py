"""LoT value semantics of lot_runtime.values: text forms, casts, operators."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lot_runtime import values as lot

MOMENT = datetime(2026, 4, 2, 7, 45, 12, 345678, tzinfo=UTC)

anything = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary()
    | st.sampled_from(["12", "12.5", " 7 ", "true", "null", "", "1e3", "abc"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, "42"),
        (212.0, "212"),
        (12.5, "12.5"),
        (-0.5, "-0.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e20, "1e+20"),
        (123456789012345.0, "123456789012345"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        ("héllo", "héllo"),
        (
            {"a": 1.0, "b": [2.5, True, None], "é": "ü"},
            '{"a":1,"b":[2.5,true,null],"é":"ü"}',
        ),
        (b"\xffok", "\ufffdok"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_text_form(value, expected):
    assert lot.text(value) == expected


def test_payload_keeps_bytes_and_encodes_the_rest():
    assert lot.payload(b"\x00\xff") == b"\x00\xff"
    assert lot.payload(21.0) == b"21"
    assert lot.payload("ü") == "ü".encode()


@given(st.floats(allow_nan=False))
def test_text_form_of_a_double_reads_back_as_the_same_double(x):
    assert float(lot.text(x)) == x
    assert not lot.text(x).endswith(".0")


@given(anything)
def test_casts_never_raise(v):
    assert isinstance(lot.as_int(v), int)
    assert isinstance(lot.as_double(v), float)
    assert isinstance(lot.as_bool(v), bool)
    assert isinstance(lot.as_string(v), str)
    assert isinstance(lot.as_timestamp(v), str)
    assert isinstance(lot.as_timestamp(v, "yyyy-MM-dd"), str)
    assert lot.as_json(v) is None or isinstance(lot.as_json(v), dict | list)
    assert isinstance(lot.as_bytes(v), bytes)
    assert isinstance(lot.truthy(v), bool)


@given(anything, anything)
def test_comparisons_are_symmetric_and_never_raise(a, b):
    assert lot.eq(a, b) == lot.eq(b, a)
    assert lot.ne(a, b) != lot.eq(a, b)
    lot.lt(a, b), lot.le(a, b), lot.gt(a, b), lot.ge(a, b)
    assert isinstance(lot.contains(a, b), bool)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("21.7", 21),
        ("-21.7", -21),
        ("42", 42),
        (" 7 ", 7),
        (3.99, 3),
        (True, 1),
        ("1e3", 1000),
    ],
)
def test_as_int(value, expected):
    assert lot.as_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("FALSE", False),
        ("1", True),
        ("0", False),
        (2.5, True),
        (0, False),
    ],
)
def test_as_bool(value, expected):
    assert lot.as_bool(value) is expected


def test_failed_casts_fall_back_and_are_reported():
    seen = []
    lot.set_failure_reporter(lambda kind, value: seen.append((kind, value)))
    try:
        assert lot.as_int("abc") == 0
        assert lot.as_double("x1") == 0.0
        assert lot.as_bool("maybe") is False
        assert lot.as_json("[1,") is None
        # No value at all is not a failure: EMPTY, "", JSON null.
        assert (lot.as_int(None), lot.as_double(""), lot.as_bool("null")) == (
            0,
            0.0,
            False,
        )
    finally:
        lot.set_failure_reporter(None)
    assert [kind for kind, _ in seen] == ["INT", "DOUBLE", "BOOL", "JSON"]


def test_number():
    assert lot.number("12") == 12 and isinstance(lot.number("12"), int)
    assert lot.number("12.5") == 12.5
    assert lot.number(True) is None
    assert lot.number("1_000") is None
    assert lot.number("abc") is None


def test_add_adds_numbers_and_joins_text():
    assert lot.add(1, 2) == 3
    assert lot.add("1", "2") == 3
    assert lot.add(1.5, "2") == 3.5
    assert lot.add("a", 1) == "a1"
    assert lot.add("t=", 21.0) == "t=21"
    assert lot.add(None, "x") == "x"
    assert lot.join("memo/", 7, "/max") == "memo/7/max"


def test_arithmetic_keeps_ints_when_both_are_whole():
    assert lot.sub("10", 4) == 6 and isinstance(lot.sub("10", 4), int)
    assert lot.mul(3, "2.5") == 7.5
    assert lot.div(6, 3) == 2 and isinstance(lot.div(6, 3), int)
    assert lot.div(7, 2) == 3.5
    assert lot.mod(7, 3) == 1
    assert lot.mod(-7, 3) == -1  # the sign of the dividend, as in .NET
    assert lot.neg("5") == -5
    with pytest.raises(ZeroDivisionError):
        lot.div(1, 0)
    with pytest.raises(ZeroDivisionError):
        lot.mod(1, 0.0)


def test_comparisons():
    assert lot.eq("12", 12.0)
    assert lot.eq(None, "") and lot.eq(None, None)
    assert not lot.eq(None, 0)
    assert lot.eq(True, "true")
    assert not lot.eq("abc", "ABC")
    assert lot.lt("9", "10")  # numeric
    assert lot.lt("b", "c") and not lot.lt("b", "a")
    assert lot.ge(2, 2.0)
    assert lot.contains("hello world", "o w")
    assert lot.starts_with("sensor/1", "sensor") and lot.ends_with("a.csv", ".csv")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0.0, False),
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("0", False),
        ("yes", False),
        ("", False),
        (None, False),
    ],
)
def test_truthy(value, expected):
    assert lot.truthy(value) is expected


def test_get_json():
    doc = (
        '{"readings":[{"value":3.5},{"value":null}],"name":"b2","ok":true,"n":{"a":1}}'
    )
    assert lot.get_json("readings[0].value", doc) == 3.5
    assert lot.get_json("readings[1].value", doc) == "null"
    assert lot.get_json("readings[5].value", doc) == "null"
    assert lot.get_json("missing", doc) == "null"
    assert lot.get_json("name", doc) == "b2"
    assert lot.get_json("ok", doc) is True
    assert lot.get_json("n", doc) == {"a": 1}
    assert lot.get_json("a", {"a": [1, 2]}) == [1, 2]
    assert lot.get_json("[1]", [5, 6]) == 6
    assert lot.as_double(lot.get_json("missing", doc)) == 0.0


def test_get_json_of_text_that_is_no_json_is_null_and_reported():
    seen = []
    lot.set_failure_reporter(lambda kind, value: seen.append(kind))
    try:
        assert lot.get_json("a", "not json") == "null"
    finally:
        lot.set_failure_reporter(None)
    assert seen == ["JSON"]


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("UTC", "2026-04-02 07:45:12"),
        ("ISO", "2026-04-02T07:45:12Z"),
        ("UNIX", 1775115912),
        ("UNIX-MS", 1775115912345),
        ("dd/MM/yyyy HH:mm", "02/04/2026 07:45"),
        ("yyyy-MM-ddTHH:mm:ss.fffZ", "2026-04-02T07:45:12.345Z"),
        ("hh:mm tt", "07:45 AM"),
        ("ddd dddd MMM MMMM", "Thu Thursday Apr April"),
        ("zzz", "+00:00"),
        ("'at' HH", "at 07"),
    ],
)
def test_timestamp_formats(fmt, expected):
    assert lot.timestamp(fmt, now=MOMENT) == expected


def test_timestamp_now_is_utc():
    stamp = lot.timestamp("UNIX")
    assert abs(stamp - datetime.now(UTC).timestamp()) < 5


def test_as_timestamp():
    assert lot.as_timestamp("2026-04-02 07:45:12") == "2026-04-02 07:45:12"
    assert lot.as_timestamp(1775115912) == "2026-04-02 07:45:12"
    assert lot.as_timestamp("2026-04-02T07:45:12Z", "dd.MM.yyyy") == "02.04.2026"
    assert lot.as_timestamp(None) == ""


def test_random():
    for _ in range(200):
        assert 1 <= lot.random_between(1, 3) <= 3
        assert isinstance(lot.random_between(1, 3), int)
        assert 0.5 <= lot.random_between(0.5, 0.6, "DOUBLE") <= 0.6
    assert {lot.random_between(1, 2) for _ in range(200)} == {1, 2}
    assert uuid.UUID(lot.random_uuid()).version == 4


def test_text_functions():
    assert lot.regex_filter("temp=21.5C", r"[0-9.]+") == "21.5"
    assert lot.regex_filter("none", r"\d+") == ""
    assert lot.regex_filter("x", "(") == ""
    assert lot.replace("-", "_", "a-b-c") == "a_b_c"
    assert lot.replace("", "_", "abc") == "abc"
    assert lot.trim("  x \n") == "x"
    assert lot.split_csv('a,"b,c",3') == ["a", "b,c", "3"]
    assert lot.split_csv("") == []


def test_python_result():
    assert lot.python_result("x") == "x"
    assert lot.python_result(None) == "null"
    assert lot.python_result({"a": 2.0}) == '{"a":2}'
    assert lot.python_result(3.5) == "3.5"
    assert lot.python_result(True) == "true"
    assert math.isnan(float(lot.python_result(float("nan"))))
