"""Expressions: precedence and operand reach, applied to the grammar's flat form.

The grammar reads an expression as terms joined by operators, each term being
prefixes, one atom and suffixes (casts and ``AND_THEN`` transforms).  This
module turns that into a tree.  The rules, also written in docs/semantics.md:

======  ===========================================  =============
level   operators                                    associativity
======  ===========================================  =============
1       ``OR``                                       left
2       ``AND``                                      left
3       ``NOT`` (prefix)                             -
4       ``==`` ``=`` ``!=`` ``<`` ``>`` ``<=`` ``>=``  left
        ``EQUALS`` ``NOT EQUALS`` ``CONTAINS``
        ``STARTS_WITH`` ``ENDS_WITH``
5       ``+`` ``-``                                  left
6       ``*`` ``/`` ``%``                            left
7       ``-`` (prefix), ``TRIM``, ``GET JSON .. IN``  -
8       ``AS type``, ``AND_THEN ...`` (suffixes)     left
======  ===========================================  =============

A suffix written after a prefixed atom applies to the prefixed value, so
``GET JSON "k" IN PAYLOAD AS DOUBLE`` casts what GET JSON found.
``GET TOPIC`` takes the whole ``+`` chain that follows it as the topic, up to
the first term that carries a suffix, and that suffix applies to the value
read: ``GET TOPIC "memo/" + {pump} + "/max" AS DOUBLE`` reads one topic and
casts it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lotc.frontend import ast
from lotc.frontend.diagnostics import Span

BINDING_POWER = {
    "OR": 1,
    "AND": 2,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
COMPARISONS = frozenset(
    {
        "==",
        "=",
        "!=",
        "<",
        ">",
        "<=",
        ">=",
        "EQUALS",
        "EQUAL",
        "NOT EQUALS",
        "CONTAINS",
        "STARTS_WITH",
        "ENDS_WITH",
    }
)
for _comparison in COMPARISONS:
    BINDING_POWER[_comparison] = 4
NOT_OPERAND_POWER = 3


@dataclass
class Prefix:
    kind: str  # "-", "NOT", "GET TOPIC", "GET JSON", "TRIM"
    span: Span
    path: ast.String | None = None


@dataclass
class Term:
    prefixes: list[Prefix]
    atom: ast.Expr
    suffixes: list[Callable[[ast.Expr], ast.Expr]] = field(default_factory=list)


@dataclass
class Operator:
    text: str
    span: Span


def join(first: Span, last: Span) -> Span:
    return Span(first.file, first.line, first.column, last.end_line, last.end_column)


def build(items: list[Term | Operator]) -> ast.Expr:
    """Build the tree for ``term (operator term)*``."""
    return _Climber(items).expression(0)


class _Climber:
    def __init__(self, items: list[Term | Operator]) -> None:
        self.items = items
        self.position = 0

    def expression(self, minimum: int) -> ast.Expr:
        left = self.operand()
        while self.position < len(self.items):
            operator = self.items[self.position]
            assert isinstance(operator, Operator)
            power = BINDING_POWER[operator.text]
            if power <= minimum:
                break
            self.position += 1
            right = self.expression(power)
            left = ast.Binary(join(left.span, right.span), operator.text, left, right)
        return left

    def operand(self) -> ast.Expr:
        term = self.items[self.position]
        assert isinstance(term, Term)
        if not term.prefixes:
            self.position += 1
            return _with_suffixes(term.atom, term.suffixes)

        first, rest = term.prefixes[0], term.prefixes[1:]
        if first.kind == "NOT":
            self.items[self.position] = Term(rest, term.atom, term.suffixes)
            inner = self.expression(NOT_OPERAND_POWER)
            return ast.Unary(join(first.span, inner.span), "NOT", inner)
        if first.kind == "GET TOPIC":
            return self._get_topic(first, Term(rest, term.atom, term.suffixes))

        self.items[self.position] = Term(rest, term.atom, [])
        inner = self.operand()
        span = join(first.span, inner.span)
        if first.kind == "-":
            value: ast.Expr = ast.Unary(span, "-", inner)
        elif first.kind == "TRIM":
            value = ast.Trim(span, inner)
        else:
            assert first.path is not None
            value = ast.GetJson(span, first.path, inner)
        return _with_suffixes(value, term.suffixes)

    def _get_topic(self, prefix: Prefix, term: Term) -> ast.Expr:
        if _starts_with_not(term):
            # `GET TOPIC NOT ...` has no sensible topic chain: read it as
            # GET TOPIC applied to the NOT expression, suffixes left in place.
            self.items[self.position] = term
            topic = self.operand()
            return ast.GetTopic(join(prefix.span, topic.span), topic)
        suffixes, term = term.suffixes, Term(term.prefixes, term.atom, [])
        self.items[self.position] = term
        topic = self.operand()
        while (
            not suffixes
            and self._next_operator_is("+")
            and not _starts_with_not(self.items[self.position + 1])
        ):
            self.position += 1
            following = self.items[self.position]
            assert isinstance(following, Term)
            suffixes = following.suffixes
            self.items[self.position] = Term(following.prefixes, following.atom, [])
            part = self.operand()
            topic = ast.Binary(join(topic.span, part.span), "+", topic, part)
        value = ast.GetTopic(join(prefix.span, topic.span), topic)
        return _with_suffixes(value, suffixes)

    def _next_operator_is(self, text: str) -> bool:
        if self.position >= len(self.items):
            return False
        item = self.items[self.position]
        return isinstance(item, Operator) and item.text == text


def _starts_with_not(term) -> bool:
    """A NOT term reaches over the operators after it, so it cannot be one
    link of a GET TOPIC chain."""
    return isinstance(term, Term) and any(p.kind == "NOT" for p in term.prefixes)


def _with_suffixes(value: ast.Expr, suffixes) -> ast.Expr:
    for suffix in suffixes:
        value = suffix(value)
    return value
