"""Property tests for the formatter over generated LoT programs.

The generator follows the grammar's constructs: actions with every header
layout, statements nested two deep, models, routes and rules, expressions
built from every atom, prefix, suffix and operator.  A program is drawn once
as logical lines of tokens and rendered twice: *clean* (single spaces, four
per level, each statement on one line) and *noisy* (random spaces, another
indentation unit, continuation lines, other header layouts, other spellings
of the same thing).  Both renderings carry the same comments and blank lines.

Properties: the input parses; the formatter's output parses without errors,
formats to itself, and has the input's tree; and both renderings format to
the same text, so the output depends on the program, not on its spelling.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_formatter import fmt, tree

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Alt:
    """A spot with several spellings: ``options[0]`` in the clean rendering.

    Options carry their own spacing; ``\\n>`` starts a continuation line one
    level deeper than the line it continues.
    """

    options: tuple[str, ...]


@dataclass
class Line:
    depth: int
    tokens: list
    blank: bool = False
    own: str | None = None
    tail: str | None = None


@dataclass
class Style:
    rng: random.Random | None = None
    unit: str = "    "
    lines: list[str] = field(default_factory=list)

    def space(self) -> str:
        return self.rng.choice((" ", "  ", "   ")) if self.rng else " "

    def pick(self, alt: Alt) -> str:
        return self.rng.choice(alt.options) if self.rng else alt.options[0]


def render(lines: list[Line], style: Style) -> str:
    out = []
    for line in lines:
        if line.blank:
            out.append("")
        if line.own:
            pad = style.space()[1:] * (line.depth + 1) if style.rng else ""
            out.append(pad + style.unit * line.depth + line.own)
        text = style.unit * line.depth + _join(line, style)
        out.append(text + ("  " + line.tail if line.tail else ""))
    return "\n".join(out) + "\n"


def _join(line: Line, style: Style) -> str:
    text, glue = "", ""
    for token in line.tokens:
        if isinstance(token, Alt):
            deeper = "\n" + style.unit * (line.depth + 1) + " "
            text += style.pick(token).replace("\n>", deeper)
            glue = ""
        else:
            text += glue + token
            glue = style.space()
    return text


# ----------------------------------------------------------------- expressions

NAMES = st.sampled_from(["Alpha", "Beta", "Pump_1", "tank", "Zeta9"])
VARS = st.sampled_from(["x", "y", "temp", "_n"])
STRINGS = st.sampled_from(
    [
        '"a"',
        '"plant/+/temp"',
        '""',
        '"say \\"hi\\""',
        '"line\\nbreak"',
        '"\\\\d+"',
        '"-- not a comment"',
        '"// nor this"',
        '"it\'s"',
        '"{x}"',
        '"ünï"',
    ]
)
NUMBERS = st.sampled_from(["0", "1", "42", "3.14", "100"])
POSITIONS = st.sampled_from(["1", "2", "3"])
OPERATORS = st.sampled_from(
    "+ - * / % == != < > <= >= EQUALS EQUAL CONTAINS STARTS_WITH ENDS_WITH".split()
    + ["AND", "OR", "NOT EQUALS"]
)
CASTS = st.sampled_from(
    ["INT", "DOUBLE", "STRING", "BOOL", "TIMESTAMP", "ARRAY", "OBJECT", "JSON"]
)


@st.composite
def atom(draw, level: int) -> list:
    simple = [
        st.builds(lambda n: [n], NUMBERS),
        st.builds(lambda s: [s], STRINGS),
        st.sampled_from([["TRUE"], ["false"], ["EMPTY"], ["PAYLOAD"], ["RANDOM UUID"]]),
        st.builds(lambda v: ["{" + v + "}"], VARS),
        st.builds(lambda p: ["TOPIC POSITION", p], POSITIONS),
        st.builds(lambda s: ["GET ENV", s], STRINGS),
        st.builds(lambda s: ["GET SECRET", s], STRINGS),
        st.sampled_from([["CLIENTID"], ["USER"], ["ENDPOINT"], ["SUBSCRIBEQOS"]]),
        st.builds(
            lambda s: ["TIMESTAMP", Alt((" ", " WITH ")), s],
            st.sampled_from(['"UTC"', '"ISO"', '"yyyy-MM-dd"']),
        ),
        st.builds(
            lambda kind, low, high: ["RANDOM", *kind, "BETWEEN", *low, "AND", high],
            st.sampled_from([[], ["INT"], ["DOUBLE"]]),
            st.sampled_from([["1"], ["-", "5"], ["0"]]),
            NUMBERS,
        ),
    ]
    if level <= 0 or draw(st.integers(0, 2)):
        return draw(st.one_of(simple))
    inner = expression(level - 1)
    compound = [
        st.builds(lambda e: ["(", *e, ")"], value(level - 1)),
        st.builds(lambda s, e: ["GET JSON", s, "IN", *e], STRINGS, atom(level - 1)),
        st.builds(lambda e: ["GET TOPIC", *_no_leading_not(e)], inner),
        st.builds(lambda e, s: ["FILTER", *e, "USING REGEX", s], atom(0), STRINGS),
        st.builds(
            lambda a, b, c: ["REPLACE", *a, "WITH", *b, "IN", *c],
            atom(0),
            atom(0),
            atom(0),
        ),
        st.builds(lambda e: ["SPLIT", *e, "USING CSV"], atom(0)),
        st.builds(lambda e: ["TRIM", *e], atom(0)),
        st.builds(
            lambda m, r, k, e: ["GET MODEL", m, "FROM", r, "WHERE", k, "EQUALS", *e],
            STRINGS,
            STRINGS,
            VARS,
            atom(0),
        ),
        st.builds(
            lambda members: ["{", *_commas(members), "}"],
            st.lists(st.builds(lambda k, e: [k + ":", *e], STRINGS, inner), max_size=2),
        ),
    ]
    return draw(st.one_of(simple + compound))


def _no_leading_not(tokens: list) -> list:
    # The parser moves a suffix written inside ``GET TOPIC NOT x ...`` to the
    # GET TOPIC (a known parser bug); parentheses keep such topics apart.
    return ["(", *tokens, ")"] if tokens[0] == "NOT" else tokens


def _commas(parts: list[list]) -> list:
    out: list = []
    for index, part in enumerate(parts):
        out.extend(([","] if index else []) + part)
    return out


@st.composite
def term(draw, level: int) -> list:
    tokens = draw(atom(level))
    suffixes = st.one_of(
        st.builds(lambda t: ["AS", t], CASTS),
        st.just(["AND_THEN TRIM"]),
        st.just(["AND_THEN SPLIT USING CSV"]),
        st.builds(lambda s: ["AND_THEN FILTER USING REGEX", s], STRINGS),
        st.builds(lambda a, b: ["AND_THEN REPLACE", *a, "WITH", *b], atom(0), atom(0)),
    )
    prefix = draw(st.sampled_from([[], [], [], ["-"], ["NOT"], ["TRIM"]]))
    if prefix == ["NOT"]:
        # The parser moves the suffix of a NOT term inside a GET TOPIC chain to
        # the GET TOPIC (a known parser bug), so NOT terms carry no suffix.
        return prefix + tokens
    for suffix in draw(st.lists(suffixes, max_size=1)):
        tokens = tokens + suffix
    return prefix + tokens


@st.composite
def expression(draw, level: int = 1) -> list:
    tokens = draw(term(level))
    for _ in range(draw(st.integers(0, 2 if level else 1))):
        tokens = tokens + [draw(OPERATORS)] + draw(term(max(level - 1, 0)))
    return tokens


@st.composite
def value(draw, level: int = 1) -> list:
    if level and draw(st.integers(0, 9)) == 0:
        condition, then, otherwise = (draw(expression(level - 1)) for _ in range(3))
        return ["IF", *condition, "THEN", *then, "ELSE", *otherwise]
    return draw(expression(level))


# ------------------------------------------------------------------ statements


def _arguments(draw, count: int) -> list:
    parts = [[draw(VARS), "=", *draw(value(1))] for _ in range(count)]
    return _commas(parts)


@st.composite
def plain(draw, multiline: bool = True) -> list:
    """A one-line statement: the kinds ``IF c THEN ...`` may hold."""
    more = Alt((" ", "\n>")) if multiline else Alt((" ",))
    kind = draw(st.integers(0, 10))
    if kind == 0:
        separator = Alt((" WITH ", " TO ", " AS ", " = ", " USING "))
        return ["SET", draw(STRINGS), separator, *draw(value())]
    if kind in (1, 2):
        verb = "PUBLISH TOPIC" if kind == 1 else "KEEP TOPIC"
        return [verb, *draw(expression(1)), more, "WITH", *draw(value())]
    if kind == 3:
        tokens = ["CALL ACTION", draw(NAMES)]
        if draw(st.booleans()):
            tokens += [more, "WITH", *_arguments(draw, draw(st.integers(1, 3)))]
        if draw(st.booleans()):
            tokens += [
                more,
                "RETURN",
                *_commas([[v] for v in draw(st.lists(VARS, min_size=1, max_size=3))]),
            ]
        return tokens
    if kind == 4:
        tokens = ["CALL PYTHON", draw(STRINGS)]
        if draw(st.booleans()):
            arguments = [draw(value(1)) for _ in range(draw(st.integers(1, 3)))]
            tokens += [more, "WITH", "(", *_commas(arguments), ")"]
        return tokens + _return_as(draw, more)
    if kind == 5:
        return _call_service(draw, more)
    if kind == 6:
        tokens = ["TRIGGER", draw(STRINGS), "TO", *draw(expression(1))]
        if draw(st.booleans()):
            tokens += ["WITH", *draw(value(1))]
        if draw(st.booleans()):
            tokens += ["FOR", draw(st.one_of(NAMES, STRINGS))]
        return tokens
    if kind == 7:
        store = draw(st.sampled_from(["ENV", "SECRET"]))
        if draw(st.booleans()):
            return ["DELETE", store, draw(STRINGS)]
        return ["KEEP", store, draw(STRINGS), "WITH", *draw(value(1))]
    if kind == 8 and multiline:  # IF c THEN cannot hold a PUBLISH MODEL
        return ["PUBLISH MODEL", draw(NAMES), "TO", *draw(expression(1))]
    separator = Alt((" WITH ", " TO ", " AS "))
    return ["SET", draw(STRINGS), separator, *draw(value())]


def _return_as(draw, more: Alt) -> list:
    return [more, "RETURN AS", "{" + draw(VARS) + "}"] if draw(st.booleans()) else []


def _call_service(draw, more: Alt) -> list:
    kind = draw(st.sampled_from(["MCP", "LLM", "AGENT"]))
    tokens = ["CALL", kind, draw(STRINGS)]
    if draw(st.booleans()):
        tokens += ["METHOD", draw(STRINGS)]
    if draw(st.booleans()):
        arguments = _arguments(draw, draw(st.integers(1, 3)))
        if draw(st.booleans()):
            arguments = ["(", *arguments, ")"]
        tokens += [more, "WITH", *arguments]
    return tokens + _return_as(draw, more)


@st.composite
def statements(draw, depth: int, nesting: int = 0) -> list[Line]:
    lines: list[Line] = []
    for _ in range(draw(st.integers(1, 3 - nesting))):
        lines += draw(statement(depth, nesting))
    return lines


@st.composite
def statement(draw, depth: int, nesting: int) -> list[Line]:
    kind = draw(st.integers(0, 9 if nesting < 2 else 4))
    if kind <= 3:
        return [Line(depth, draw(plain()))]
    if kind == 4:
        return _publish_model(draw, depth)
    body = statements(depth + 1, nesting + 1)
    if kind == 5:
        return _if_block(draw, depth, body)
    if kind == 6:
        then = draw(plain(multiline=False))
        tokens = ["IF", *draw(expression(1)), "THEN", *then]
        if draw(st.booleans()):
            tokens += ["ELSE", *draw(plain(multiline=False))]
        return [Line(depth, tokens)]
    if kind == 7:
        lines = [Line(depth, ["SWITCH", *draw(expression(1))])]
        for _ in range(draw(st.integers(1, 3))):
            lines += [Line(depth + 1, ["CASE", *draw(expression(0)), "THEN"])]
            lines += draw(statements(depth + 2, nesting + 1))
        if draw(st.booleans()):
            lines += [Line(depth + 1, ["DEFAULT", Alt((" THEN", ""))])]
            lines += draw(statements(depth + 2, nesting + 1))
        return lines
    if kind == 8:
        until = Line(depth, ["UNTIL", *draw(expression(1))])
        return [Line(depth, ["LOOP"]), *draw(body), until]
    return _if_block(draw, depth, body)


def _if_block(draw, depth: int, body) -> list[Line]:
    lines = [Line(depth, ["IF", *draw(expression()), "THEN"]), *draw(body)]
    for _ in range(draw(st.integers(0, 2))):
        lines += [Line(depth, ["ELSE IF", *draw(expression()), "THEN"]), *draw(body)]
    if draw(st.booleans()):
        lines += [Line(depth, ["ELSE"]), *draw(body)]
    return lines


def _publish_model(draw, depth: int) -> list[Line]:
    head = [
        "PUBLISH MODEL",
        draw(st.one_of(NAMES, STRINGS)),
        "TO",
        *draw(expression(1)),
    ]
    fields = [
        [".".join(draw(st.lists(VARS, min_size=1, max_size=2))), "=", *draw(value(1))]
        for _ in range(draw(st.integers(1, 3)))
    ]
    if draw(st.booleans()):
        return [Line(depth, head + ["WITH", *_commas(fields)])]
    comma = Alt(("", ","))
    lines = [Line(depth, head + ["WITH"])]
    return lines + [Line(depth + 1, [*f, comma]) for f in fields]


# -------------------------------------------------------------------- entities

TRIGGERS = st.one_of(
    st.builds(
        lambda n, u: f"ON EVERY {n} {u}",
        st.sampled_from(["1", "5", "30"]),
        st.sampled_from(["SECOND", "SECONDS", "MINUTES", "HOUR", "MILLISECONDS"]),
    ),
    st.builds(
        lambda d, s: f"ON EVERY {d} AT {s}",
        st.sampled_from(["MONDAY", "WEEKDAY", "WEEKEND"]),
        st.sampled_from(['"08:00"', '"23:15:00"']),
    ),
    st.builds(lambda s: f"ON TIMESTAMP {s}", STRINGS),
    st.builds(lambda s: f"ON TOPIC {s}", STRINGS),
    st.builds(lambda s: f"ON CHANGE {s}", STRINGS),
    st.sampled_from(["ON START", "ON CONNECT", "ON DISCONNECT", "ON SUBSCRIBE"]),
    st.builds(lambda s: f"ON SUBSCRIBE {s}", STRINGS),
)


@st.composite
def action(draw) -> list[Line]:
    head = ["DEFINE ACTION", draw(NAMES)]
    kind = draw(st.integers(0, 3))
    if kind <= 1:
        trigger = draw(TRIGGERS)
        header = (f"\n{trigger} DO", f" {trigger} DO", f"\n{trigger}\nDO")
        return [Line(0, head + [Alt(header)]), *draw(statements(1))]
    lines = [Line(0, head)]
    if kind == 2:
        for _ in range(draw(st.integers(1, 3))):
            lines.append(
                Line(0, ["INPUT", draw(VARS), "AS", draw(CASTS.filter(_input))])
            )
    lines += [Line(0, ["DO"]), *draw(statements(1))]
    if kind == 2 and draw(st.booleans()):
        lines.append(Line(0, ["RETURN"]))
        lines += [Line(1, ["OUTPUT", v]) for v in draw(st.lists(VARS, min_size=1))]
    if draw(st.booleans()):
        lines.append(Line(0, ["DESCRIPTION", draw(STRINGS)]))
    return lines


def _input(type_name: str) -> bool:
    return type_name in ("STRING", "INT", "DOUBLE", "BOOL", "JSON")


MODEL_OPTIONS = st.one_of(
    st.just(["COLLAPSED"]),
    st.builds(lambda n: ["FROM", n], NAMES),
    st.builds(lambda s: ["WITH TOPIC", s], STRINGS),
    st.just([Alt((" WITH RETAIN ", " RETAIN ", " KEEP "))]),
    st.sampled_from([["QOS0"], ["QOS1"], ["QOS2"], ["AND"]]),
    st.sampled_from([["WITH FORMAT", "JSON"], ["WITH FORMAT", "PROTOBUF"]]),
)
FIELD_TYPES = st.sampled_from(["STRING", "INT", "DOUBLE", "BOOL", "TIMESTAMP"])


@st.composite
def model_items(draw, depth: int) -> list[Line]:
    lines: list[Line] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 6 if depth < 3 else 4))
        if kind <= 2:
            type_name = [] if kind == 2 else [draw(FIELD_TYPES)]
            lines.append(
                Line(depth, ["ADD", *type_name, draw(STRINGS), *_source(draw)])
            )
        elif kind == 3:
            lines.append(
                Line(depth, ["ADD COLLECTION", draw(STRINGS), "OF", draw(NAMES)])
            )
        elif kind == 4:
            verb = draw(st.sampled_from(["STORE IN", "FETCH FROM"]))
            tokens = [verb, draw(STRINGS), "WITH TABLE", draw(STRINGS)]
            if draw(st.booleans()):
                tokens += ["WHEN", *draw(expression(1))]
            if verb == "FETCH FROM" and draw(st.booleans()):
                tokens += ["LIMIT", draw(NUMBERS.filter(str.isdigit))]
            lines.append(Line(depth, tokens))
        else:
            holder = draw(st.sampled_from(["OBJECT", "ARRAY"]))
            lines.append(Line(depth, ["ADD", holder, draw(STRINGS)]))
            lines += draw(model_items(depth + 1))
    return lines


def _source(draw) -> list:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return []
    if kind == 1:
        return [
            "WITH TOPIC",
            draw(STRINGS),
            *draw(st.sampled_from([[], ["AS TRIGGER"]])),
        ]
    return ["WITH", *draw(value(1))]


@st.composite
def model(draw) -> list[Line]:
    options = draw(st.lists(MODEL_OPTIONS, max_size=4))
    head = Line(0, ["DEFINE MODEL", draw(NAMES)] + [t for o in options for t in o])
    return [head, *(draw(model_items(1)) if draw(st.integers(0, 4)) else [])]


SETTING_VALUES = st.one_of(
    STRINGS,
    st.sampled_from(
        ["'1883'", "''", "502", "- 1", "true", "FALSE", "SERIAL", "lossless"]
    ),
    st.builds(lambda s: "GET ENV " + s, STRINGS),
    st.builds(lambda s: "GET SECRET " + s, STRINGS),
)
KEYS = st.sampled_from(["HOST", "PORT", "QUERY", "SOURCE_TOPIC", "USE_SSL", "TYPE"])


@st.composite
def settings_lines(draw, depth: int) -> list[Line]:
    lines = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.integers(0, 5))
        if kind == 0:
            lines.append(Line(depth, ["WITH EVERY", draw(POSITIONS), "SECONDS"]))
        elif kind == 1:
            lines.append(Line(depth, ["WITH BROKER SELF"]))
        else:
            lines.append(Line(depth, ["WITH", draw(KEYS), draw(SETTING_VALUES)]))
    return lines


@st.composite
def route(draw) -> list[Line]:
    type_name = draw(st.sampled_from(["POSTGRESQL", "MODBUS_TCP", "EMAIL"]))
    lines = [Line(0, ["DEFINE ROUTE", draw(NAMES), "WITH TYPE", type_name])]
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.integers(0, 4))
        if kind == 0:
            lines.append(
                Line(1, ["STORE", draw(NAMES), "WITH TABLE_NAME", draw(STRINGS)])
            )
        elif kind == 1:
            lines += draw(settings_lines(1))
        else:
            block = draw(st.sampled_from(["SQL_CONFIG", "MAPPING", "EVENT"]))
            name = draw(st.sampled_from([[], [draw(NAMES)], [draw(STRINGS)]]))
            lines.append(Line(1, ["ADD", block, *name]))
            lines += draw(settings_lines(2))
            for _ in range(draw(st.integers(0, 2)) if block == "MAPPING" else 0):
                lines.append(Line(2, ["ADD TAG", draw(st.one_of(NAMES, STRINGS))]))
                lines += draw(settings_lines(3))
    return lines


@st.composite
def rule_term(draw, level: int) -> list:
    checks = [
        st.builds(lambda s: ["USER IS", s], STRINGS),
        st.builds(lambda s: ["USER HAS", s], st.one_of(NAMES, STRINGS)),
        st.builds(lambda s: ["USER IN GROUP", s], STRINGS),
        st.builds(lambda s: ["CLIENTID IS", s], STRINGS),
        st.builds(lambda p: ["CLIENTID IS TOPIC POSITION", p], POSITIONS),
        st.builds(lambda s: ["CLIENTID MATCHES REGEX", s], STRINGS),
        st.builds(lambda t: ["TOPIC EXISTS", *t], _concatenation()),
        st.builds(lambda t, s: ["GET TOPIC", *t, "IS", s], _concatenation(), STRINGS),
    ]
    if level:
        checks.append(st.builds(lambda t: ["NOT", *t], rule_term(level - 1)))
        checks.append(st.builds(lambda c: ["(", *c, ")"], rule_condition(level - 1)))
    return draw(st.one_of(checks))


def _concatenation():
    part = st.one_of(
        STRINGS.map(lambda s: [s]),
        st.just(["USER"]),
        POSITIONS.map(lambda p: ["TOPIC POSITION", p]),
    )
    return st.lists(part, min_size=1, max_size=3).map(
        lambda parts: [t for i, p in enumerate(parts) for t in (["+"] if i else []) + p]
    )


@st.composite
def rule_condition(draw, level: int = 2) -> list:
    tokens = draw(rule_term(level))
    for _ in range(draw(st.integers(0, 2))):
        tokens += [draw(st.sampled_from(["AND", "OR"]))] + draw(rule_term(level))
    return tokens


@st.composite
def rule(draw) -> list[Line]:
    head = ["DEFINE RULE", draw(NAMES)]
    if draw(st.booleans()):
        head += ["WITH PRIORITY", draw(st.sampled_from(["100", "- 5", "150"]))]
    if draw(st.booleans()):
        head += ["FOR", draw(st.sampled_from(["Publish", "Subscribe", "Connect"]))]
    if draw(st.booleans()):
        head += ["TO TOPIC", draw(STRINGS)]
    verdicts = st.sampled_from(["ALLOW", "DENY"])
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return [Line(0, head + [draw(verdicts)])]
    if kind == 1:
        return [Line(0, head), Line(1, [draw(verdicts)])]
    condition = ["IF", *draw(rule_condition()), "THEN"]
    if kind == 2:
        inline = [*condition, draw(verdicts), "ELSE", draw(verdicts)]
        return [Line(0, head), Line(1, inline)]
    return [
        Line(0, head),
        Line(1, condition),
        Line(2, [draw(verdicts)]),
        Line(1, ["ELSE"]),
        Line(2, [draw(verdicts)]),
    ]


# --------------------------------------------------------------------- programs

COMMENTS = st.sampled_from(
    ["// note", "-- dash note", "/* block */", "//", "/* two\n   lines */", "// x -- y"]
)


@st.composite
def program(draw) -> list[Line]:
    entities = st.one_of(action(), action(), model(), route(), rule())
    lines: list[Line] = []
    for entity in draw(st.lists(entities, min_size=1, max_size=3)):
        lines += entity
    for line in lines:
        line.blank = draw(st.integers(0, 5)) == 0
        line.own = draw(COMMENTS) if draw(st.integers(0, 6)) == 0 else None
        tail = draw(COMMENTS.filter(lambda c: "\n" not in c))
        line.tail = tail if draw(st.integers(0, 6)) == 0 else None
    if draw(st.booleans()):
        lines.append(Line(0, [], own=draw(COMMENTS)))
    return lines


def _renderings(lines: list[Line], seed: int) -> tuple[str, str]:
    clean = render(lines, Style())
    rng = random.Random(seed)
    noisy_style = Style(rng=rng, unit=rng.choice(["    ", "  ", "   ", "\t"]))
    return clean, render(lines, noisy_style)


@given(program(), st.integers(0, 2**32))
@SETTINGS
def test_formatting_parses_is_stable_and_keeps_the_tree(lines, seed):
    clean, noisy = _renderings(lines, seed)
    for text in (clean, noisy):
        expected = tree(text)  # the generator only writes programs that parse
        out = fmt(text)
        assert out is not None
        assert tree(out) == expected
        assert fmt(out) == out


@given(program(), st.integers(0, 2**32))
@SETTINGS
def test_the_output_does_not_depend_on_spelling(lines, seed):
    clean, noisy = _renderings(lines, seed)
    assert fmt(noisy) == fmt(clean)
