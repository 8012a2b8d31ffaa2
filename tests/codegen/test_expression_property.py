"""Generated expression code computes what the LoT rules say it should.

A small reference evaluator, written from the rules of the LoT reference
(§1.8 `+`, §5 expressions) and docs/semantics.md ("Expressions", "Types",
"Code generation and run time"), is compared with the Python that lotc
generates, run over ``lot_runtime.values`` with a fake execution.  The
evaluator shares no code with the runtime, so the two can disagree.

Expressions are drawn as trees, written as LoT text with the fewest
parentheses the precedence table of docs/semantics.md needs, and read back by
the real front end, so the parser's precedence is under test too.  Each one
is the value of ``SET "r"`` in an ``ON TOPIC "t/+"`` action whose variables
``{a}`` and ``{b}`` come from ``PAYLOAD``, ``TOPIC POSITION 2``, casts of
the payload or literals (some behind an ``IF`` so that their static type is
unknown).  Programs the checker rejects are skipped.

Property: the generated value and the reference value have the same text
form, or both evaluations divide by zero.

Choices the documents leave open, made here as the runtime contract
(docs/runtime-api.md) makes them:
- numeric text is a decimal number, optionally signed, with an optional
  exponent, surrounded by optional white space; ``inf`` and ``nan`` are not
  drawn, since whether they count as numbers is not written anywhere;
- arithmetic keeps ints when both sides are ints; a side that is no number
  counts as its ``AS DOUBLE`` value (``true`` is 1, anything else 0);
- ``%`` takes the sign of the dividend, as .NET computes it;
- negation never makes a negative zero (``-0.0`` is ``0``, not ``-0``),
  whether the compiler knows the operand is a number or not;
- ``AND``, ``OR`` and the ``IF`` value form evaluate only what they need;
- ``REPLACE`` of an empty text changes nothing.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lot_runtime import values as lot

from lotc.codegen.actions import SiteNames, lower_action
from lotc.compile import check_sources
from lotc.frontend.source import SourceFile

SETTINGS = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TRIGGER = "t/+"

# --------------------------------------------------------- reference values
#
# Values are Python int, float, str, bool and None (EMPTY), as in the runtime
# contract; every rule below is the reference's, not the runtime's.

_NUMERIC_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_WHOLE_TEXT = re.compile(r"[+-]?\d+")


def ref_number(v):
    """v as a number, or None: booleans and EMPTY are no numbers."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return v
    text = v.strip()
    if not _NUMERIC_TEXT.fullmatch(text):
        return None
    return int(text) if _WHOLE_TEXT.fullmatch(text) else float(text)


def ref_text(v) -> str:
    """The text form: INT 42, DOUBLE shortest round trip without .0, BOOL
    true/false, EMPTY nothing."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        shortest = repr(v)
        return shortest[:-2] if shortest.endswith(".0") else shortest
    return str(v)


def ref_as_int(v) -> int:
    if isinstance(v, bool):
        return int(v)
    n = ref_number(v)
    return 0 if n is None else math.trunc(n)


def ref_as_double(v) -> float:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    n = ref_number(v)
    return 0.0 if n is None else float(n)


def ref_as_bool(v) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    n = ref_number(v)
    return n is not None and n != 0


def ref_operand(v):
    """A side of - * / %: its number, else its AS DOUBLE value."""
    n = ref_number(v)
    return ref_as_double(v) if n is None else n


def ref_divide(x, y):
    if y == 0:
        raise ZeroDivisionError
    if isinstance(x, int) and isinstance(y, int) and x % y == 0:
        return x // y
    return x / y


def ref_remainder(x, y):
    if y == 0:
        raise ZeroDivisionError
    if isinstance(x, int) and isinstance(y, int):
        magnitude = abs(x) % abs(y)
        return -magnitude if x < 0 else magnitude
    return math.fmod(x, y)


def ref_add(a, b):
    x, y = ref_number(a), ref_number(b)
    if x is not None and y is not None:
        return x + y
    return ref_text(a) + ref_text(b)


def ref_compare(operator: str, a, b) -> bool:
    if operator in ("CONTAINS", "STARTS_WITH", "ENDS_WITH"):
        whole, part = ref_text(a), ref_text(b)
        if operator == "CONTAINS":
            return part in whole
        if operator == "STARTS_WITH":
            return whole.startswith(part)
        return whole.endswith(part)
    x, y = ref_number(a), ref_number(b)
    if x is None or y is None:
        x, y = ref_text(a), ref_text(b)
    return {
        "==": x == y,
        "EQUALS": x == y,
        "!=": x != y,
        "<": x < y,
        ">": x > y,
        "<=": x <= y,
        ">=": x >= y,
    }[operator]


_CASTS = {
    "INT": ref_as_int,
    "DOUBLE": ref_as_double,
    "BOOL": ref_as_bool,
    "STRING": ref_text,
}
_ARITHMETIC = {
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    "/": ref_divide,
    "%": ref_remainder,
}
_COMPARISONS = ("==", "EQUALS", "!=", "<", ">", "<=", ">=")
_TEXT_TESTS = ("CONTAINS", "STARTS_WITH", "ENDS_WITH")

# ----------------------------------------------------------- expression trees
#
# A node is a tuple whose first item names its kind:
#   ("number", "2.5") ("string", "abc") ("bool", "TRUE") ("empty",) ("var", "a")
#   ("binary", op, left, right) ("neg", x) ("not", x) ("trim", x)
#   ("cast", x, type) ("replace", old, new, source) ("if", test, then, else)


def evaluate(node, env: dict):
    """The reference value of a tree, given the values of the variables."""
    kind = node[0]
    if kind == "number":
        return float(node[1]) if "." in node[1] else int(node[1])
    if kind == "string":
        return node[1]
    if kind == "bool":
        return node[1].upper() == "TRUE"
    if kind == "empty":
        return None
    if kind == "var":
        return env[node[1]]
    if kind == "neg":
        n = ref_operand(evaluate(node[1], env))
        return -n if n != 0 else n
    if kind == "not":
        return not ref_as_bool(evaluate(node[1], env))
    if kind == "trim":
        return ref_text(evaluate(node[1], env)).strip()
    if kind == "cast":
        return _CASTS[node[2]](evaluate(node[1], env))
    if kind == "replace":
        old, new, source = (ref_text(evaluate(part, env)) for part in node[1:])
        return source.replace(old, new) if old else source
    if kind == "if":
        chosen = node[2] if ref_as_bool(evaluate(node[1], env)) else node[3]
        return evaluate(chosen, env)
    return _evaluate_binary(node[1], node[2], node[3], env)


def _evaluate_binary(operator: str, left, right, env: dict):
    if operator in ("AND", "OR"):
        first = ref_as_bool(evaluate(left, env))
        if first == (operator == "OR"):
            return first
        return ref_as_bool(evaluate(right, env))

    a, b = evaluate(left, env), evaluate(right, env)
    if operator == "+":
        return ref_add(a, b)
    if operator in _ARITHMETIC:
        return _ARITHMETIC[operator](ref_operand(a), ref_operand(b))
    return ref_compare(operator, a, b)


# Binding strength, loosest first (docs/semantics.md, "Expressions").  A
# REPLACE or IF value is written in parentheses wherever it is an operand.
_LEVEL = {"OR": 1, "AND": 2, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_LEVEL.update({op: 4 for op in _COMPARISONS + _TEXT_TESTS})
NOT_LEVEL, PREFIX_LEVEL, CAST_LEVEL, ATOM_LEVEL = 3, 7, 8, 9


def render(node) -> str:
    """LoT text of a tree, as the value after ``SET "r" WITH``."""
    return _render(node)[0]


def _operand(node, least: int) -> str:
    text, level = _render(node)
    return text if level >= least else f"({text})"


def _render(node) -> tuple[str, int]:
    kind = node[0]
    if kind == "number":
        return node[1], ATOM_LEVEL
    if kind == "string":
        return '"' + node[1] + '"', ATOM_LEVEL
    if kind == "bool":
        return node[1], ATOM_LEVEL
    if kind == "empty":
        return "EMPTY", ATOM_LEVEL
    if kind == "var":
        return "{" + node[1] + "}", ATOM_LEVEL
    if kind == "neg":
        return "-" + _operand(node[1], ATOM_LEVEL), PREFIX_LEVEL
    if kind == "trim":
        return "TRIM " + _operand(node[1], ATOM_LEVEL), PREFIX_LEVEL
    if kind == "not":
        return "NOT " + _operand(node[1], NOT_LEVEL + 1), NOT_LEVEL
    if kind == "cast":
        return f"{_operand(node[1], CAST_LEVEL)} AS {node[2]}", CAST_LEVEL
    if kind == "replace":
        old, new, source = (_operand(part, ATOM_LEVEL) for part in node[1:])
        return f"REPLACE {old} WITH {new} IN {source}", 0
    if kind == "if":
        test, then, otherwise = (_operand(part, 1) for part in node[1:])
        return f"IF {test} THEN {then} ELSE {otherwise}", 0

    operator, left, right = node[1:]
    level = _LEVEL[operator]
    # Comparisons do not chain; the other operators group to the left.
    left_least = level + 1 if level == 4 else level
    text = f"{_operand(left, left_least)} {operator} {_operand(right, level + 1)}"
    return text, level


# ----------------------------------------------------------------- strategies

# Text values: whole and decimal numbers, signs, exponents, white space,
# words, booleans in several cases, and nothing.
TEXTS = (
    "3",
    "-2",
    "0",
    "21.7",
    "0.0",
    "-0.5",
    "1e3",
    " 7 ",
    "+4",
    ".5",
    "abc",
    "a b",
    "x1",
    "",
    " ",
    "true",
    "FALSE",
    "1.0",
)
LEVELS = tuple(text for text in TEXTS if text.strip() == text)
numbers = st.sampled_from(("0", "1", "2", "3", "7", "10", "0.0", "0.5", "1.0", "2.5"))
strings = st.sampled_from(
    ("3", "-2", "21.7", "1.5", " 5 ", "0", "a", "b c", "x", "", "true")
)
variables = st.tuples(st.just("var"), st.sampled_from(("a", "b")))
literals = st.one_of(
    st.tuples(st.just("number"), numbers),
    st.tuples(st.just("string"), strings),
    st.tuples(st.just("bool"), st.sampled_from(("TRUE", "FALSE", "true", "false"))),
    st.just(("empty",)),
)
# `+` is drawn most: its add-or-join rule is where static types mislead.
binary_operators = st.sampled_from(
    ("+",) * 8 + ("-", "*", "/", "%", "AND", "OR") + _COMPARISONS + _TEXT_TESTS
)
_KINDS = ("binary",) * 6 + ("neg", "not", "trim", "trim", "cast", "cast")
_KINDS += ("replace", "if")


@st.composite
def trees(draw, depth: int):
    """An expression tree at most ``depth`` operators deep; variables are
    drawn as often as all literals together."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.one_of(variables, literals))
    kind = draw(st.sampled_from(_KINDS))
    child = trees(depth - 1)
    if kind == "binary":
        return ("binary", draw(binary_operators), draw(child), draw(child))
    if kind == "cast":
        cast = draw(st.sampled_from(("INT", "DOUBLE", "BOOL", "STRING", "STRING")))
        return ("cast", draw(child), cast)
    if kind in ("replace", "if"):
        return (kind, draw(child), draw(child), draw(child))
    return (kind, draw(child))


expressions = st.integers(1, 4).flatmap(trees)


@dataclass(frozen=True)
class Source:
    """Where a variable comes from: the LoT text of its SET and its value."""

    text: str
    value: object


@st.composite
def sources(draw, payload: str, level: str) -> Source:
    kinds = ("payload", "level", "cast", "literal", "literal", "hidden")
    kind = draw(st.sampled_from(kinds))
    if kind == "payload":
        return Source("PAYLOAD", payload)
    if kind == "level":
        return Source("TOPIC POSITION 2", level)
    if kind == "cast":
        cast = draw(st.sampled_from(("INT", "DOUBLE")))
        return Source(f"PAYLOAD AS {cast}", _CASTS[cast](payload))
    literal = draw(st.one_of(st.tuples(st.just("string"), strings), literals))
    value = evaluate(literal, {})
    if kind == "literal":
        return Source(render(literal), value)
    # Behind an IF the static type is unknown: the run-time rules apply.
    return Source(f"IF TRUE THEN {render(literal)} ELSE EMPTY", value)


@dataclass(frozen=True)
class Case:
    payload: str
    level: str
    a: Source
    b: Source
    expression: tuple

    def program(self) -> str:
        return (
            "DEFINE ACTION Probe\n"
            f'ON TOPIC "{TRIGGER}" DO\n'
            f'    SET "a" WITH {self.a.text}\n'
            f'    SET "b" WITH {self.b.text}\n'
            f'    SET "r" WITH {render(self.expression)}\n'
        )


@st.composite
def cases(draw) -> Case:
    payload = draw(st.sampled_from(TEXTS))
    level = draw(st.sampled_from(LEVELS))
    a, b = draw(sources(payload, level)), draw(sources(payload, level))
    return Case(payload, level, a, b, draw(expressions))


# ---------------------------------------------------------- generated code


class FakeRun:
    """The part of ``lot_runtime.Execution`` an expression reads."""

    def __init__(self, topic: str, text: str) -> None:
        self.topic = topic
        self.text = text
        self.payload = text.encode()

    def level(self, n: int) -> str:
        levels = self.topic.split("/")
        return levels[n - 1] if n <= len(levels) else ""


def generated_body(program: str) -> list[str] | None:
    """The Python lines of the action's body, None when the checker refuses."""
    checked = check_sources([SourceFile("probe.lot", program)])
    if checked.has_errors:
        return None
    names = SiteNames(package="probe", models={}, actions={}, scripts={})
    view, problems = lower_action(checked.site.actions["Probe"], names)
    assert not problems, [d.message for d in problems]
    return view.body


def run_generated(body: list[str], payload: str, level: str):
    """Run the body once and return the value of its last variable."""
    result = body[-1].split(" = ", 1)[0].strip()
    code = "def execute(run):\n" + "\n".join(body) + f"\n    return {result}\n"
    namespace = {"lot": lot}
    exec(compile(code, "<generated>", "exec"), namespace)
    return namespace["execute"](FakeRun(f"t/{level}", payload))


def outcome(compute) -> str:
    """The text form of a value, or the marker of a division by zero."""
    try:
        return compute()
    except ZeroDivisionError:
        return "<division by zero>"


@given(cases())
@SETTINGS
def test_generated_expressions_agree_with_the_reference(case: Case):
    body = generated_body(case.program())
    assume(body is not None)

    env = {"a": case.a.value, "b": case.b.value}
    expected = outcome(lambda: ref_text(evaluate(case.expression, env)))
    actual = outcome(lambda: lot.text(run_generated(body, case.payload, case.level)))
    assert actual == expected, (
        f"{case.program()}payload {case.payload!r}, level {case.level!r}\n"
        + "\n".join(body)
    )


# ---------------------------------------------------------- pinned examples


def lot_value(expression: str, *, payload: str = "", setup: str = "") -> str:
    """The text form of ``expression`` computed by generated code."""
    setup = textwrap.indent(textwrap.dedent(setup).strip(), "    ")
    program = (
        f'DEFINE ACTION Probe\nON TOPIC "{TRIGGER}" DO\n'
        + (setup + "\n" if setup else "")
        + f'    SET "r" WITH {expression}\n'
    )
    body = generated_body(program)
    assert body is not None, program
    return lot.text(run_generated(body, payload, "x"))


@pytest.mark.parametrize(
    ("expression", "payload", "expected"),
    [
        ('"3" + 5', "", "8"),
        ('"a" + 1', "", "a1"),
        ("7 / 2", "", "3.5"),
        ("6 / 3", "", "2"),
        ("1.0 + 2", "", "3"),
        ("0.1 + 0.2", "", "0.30000000000000004"),
        ('"21.7" AS INT', "", "21"),
        ("PAYLOAD AS DOUBLE", "abc", "0"),
        ("PAYLOAD AS INT", "-21.7", "-21"),
        ("PAYLOAD + 5", "3", "8"),
        ("PAYLOAD + 5", "abc", "abc5"),
        ("PAYLOAD * 2", "1.5", "3"),
        ("TRIM PAYLOAD + 1", " 5 ", "6"),
        ("-7 % 3", "", "-1"),
        ("TRUE + 1", "", "true1"),
        ('EMPTY == ""', "", "true"),
        ('PAYLOAD == "3.0"', "3", "true"),
        ('"10" < "9"', "", "false"),
        ('IF PAYLOAD == "on" THEN 1 ELSE 0', "on", "1"),
        ('REPLACE "." WITH "," IN PAYLOAD', "1.5", "1,5"),
    ],
)
def test_pinned_values(expression: str, payload: str, expected: str):
    assert lot_value(expression, payload=payload) == expected


def test_numeric_text_in_a_variable_still_adds():
    # {a} holds the text "3": `+` adds numeric text, whatever its static type.
    assert lot_value("{a} + 5", setup='SET "a" WITH "3"') == "8"


def test_a_join_then_a_number_is_one_text():
    assert lot_value('"kiln/" + PAYLOAD + "/alarm"', payload="7") == "kiln/7/alarm"
    assert lot_value('"a" + 1 + 2') == "a12"
    assert lot_value('1 + 2 + "a"') == "3a"


def test_division_by_zero_abandons_the_execution():
    with pytest.raises(ZeroDivisionError):
        lot_value("PAYLOAD / 0", payload="1")


def test_the_reference_agrees_with_the_pinned_values():
    # The evaluator itself, on trees of the pinned cases.
    three_plus_five = ("binary", "+", ("string", "3"), ("number", "5"))
    assert ref_text(evaluate(three_plus_five, {})) == "8"
    a_plus_one = ("binary", "+", ("string", "a"), ("number", "1"))
    assert ref_text(evaluate(a_plus_one, {})) == "a1"
    half = ("binary", "/", ("number", "7"), ("number", "2"))
    assert ref_text(evaluate(half, {})) == "3.5"
    whole = ("binary", "+", ("number", "1.0"), ("number", "2"))
    assert ref_text(evaluate(whole, {})) == "3"
    assert ref_text(evaluate(("cast", ("string", "21.7"), "INT"), {})) == "21"
    assert ref_text(evaluate(("cast", ("string", "abc"), "DOUBLE"), {})) == "0"
    assert render(("neg", ("binary", "+", ("var", "a"), ("number", "1")))) == (
        "-({a} + 1)"
    )
