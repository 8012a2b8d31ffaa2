"""Lowering of LoT expressions to Python expression text.

Input: a checked expression of one action, and the ``Scope`` of that action
(Python names and inferred types of its variables, its trigger filter).
Output: the text of one Python expression over ``run`` (the execution) and
``lot`` (``lot_runtime.values``), as described in docs/runtime-api.md.

Static types decide the fast path: ``+`` of two numbers is Python ``+``, of
anything and a text literal that is no number is ``lot.join``, and of values
known only at run time is ``lot.add``, which applies LoT's own rule.  What
the runtime cannot do yet is reported through ``Scope.unsupported`` and the
expression is lowered to ``None`` so that lowering still completes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lotc.codegen.naming import PyName, python_name
from lotc.frontend import ast
from lotc.frontend.diagnostics import Span
from lotc.frontend.types import DOUBLE, INT, NUMERIC, Typed, infer

_CASTS = {
    "INT": "lot.as_int",
    "DOUBLE": "lot.as_double",
    "BOOL": "lot.as_bool",
    "STRING": "lot.as_string",
    "TIMESTAMP": "lot.as_timestamp",
    "ARRAY": "lot.as_json",
    "OBJECT": "lot.as_json",
    "JSON": "lot.as_json",
}
_COMPARISONS = {
    "==": "lot.eq",
    "EQUALS": "lot.eq",
    "EQUAL": "lot.eq",
    "!=": "lot.ne",
    "NOT EQUALS": "lot.ne",
    "<": "lot.lt",
    ">": "lot.gt",
    "<=": "lot.le",
    ">=": "lot.ge",
    "CONTAINS": "lot.contains",
    "STARTS_WITH": "lot.starts_with",
    "ENDS_WITH": "lot.ends_with",
}
_NUMERIC_COMPARISONS = {"<", ">", "<=", ">="}
_ARITHMETIC = {"-": "lot.sub", "*": "lot.mul", "/": "lot.div", "%": "lot.mod"}


@dataclass
class Scope:
    """What lowering knows about one action while it prints its body."""

    trigger_filter: str | None
    variables: dict[str, PyName] = field(default_factory=dict)
    types: dict[str, Typed] = field(default_factory=dict)
    reserved: set[str] = field(default_factory=set)
    unsupported: list[tuple[Span, str]] = field(default_factory=list)
    temporaries: int = 0

    def variable(self, name: str) -> PyName:
        """The Python name of a LoT variable, made on first use."""
        known = self.variables.get(name)
        if known is None:
            taken = self.reserved | set(self.variables.values())
            known = python_name(name, taken=taken)
            self.variables[name] = known
        return known

    def temporary(self, hint: str) -> PyName:
        self.temporaries += 1
        taken = self.reserved | set(self.variables.values())
        return python_name(f"{hint}_{self.temporaries}", taken=taken)

    def type_of(self, expr: ast.Expr) -> Typed:
        return infer(expr, self.types)


def lower(expr: ast.Expr, scope: Scope) -> str:
    """The Python text of ``expr``."""
    method = getattr(_Lowering, "_" + type(expr).__name__, None)
    if method is None:
        scope.unsupported.append((expr.span, f"the expression `{_kind(expr)}`"))
        return "None"
    return method(expr, scope)


def condition(expr: ast.Expr, scope: Scope) -> str:
    """The Python text of ``expr`` used as a condition (a ``bool``)."""
    if _is_boolean(expr):
        return lower(expr, scope)
    return f"lot.truthy({lower(expr, scope)})"


def topic(expr: ast.Expr, scope: Scope) -> str:
    """A topic to publish to or read: wildcard levels filled from the trigger."""
    text = lower(expr, scope)
    if _may_hold_plus(expr) and scope.trigger_filter and "+" in scope.trigger_filter:
        return f"run.fill({text})"
    return text


def _kind(expr: ast.Expr) -> str:
    return type(expr).__name__


def _is_boolean(expr: ast.Expr) -> bool:
    if isinstance(expr, ast.Paren):
        return _is_boolean(expr.inner)
    if isinstance(expr, ast.Boolean):
        return True
    if isinstance(expr, ast.Unary):
        return expr.operator == "NOT"
    if isinstance(expr, ast.Binary):
        return expr.operator in _COMPARISONS or expr.operator in ("AND", "OR")
    return False


def _may_hold_plus(expr: ast.Expr) -> bool:
    """Whether a topic expression has a literal ``+`` level to fill."""
    if isinstance(expr, ast.String):
        return "+" in expr.value.split("/")
    if isinstance(expr, ast.Paren):
        return _may_hold_plus(expr.inner)
    if isinstance(expr, ast.Binary) and expr.operator == "+":
        return _may_hold_plus(expr.left) or _may_hold_plus(expr.right)
    return False


def _join_parts(expr: ast.Expr) -> list[ast.Expr]:
    """The parts of a chain of text joins, flattened: a + b + c -> [a, b, c]."""
    if isinstance(expr, ast.Paren):
        return _join_parts(expr.inner) if _is_join(expr.inner) else [expr]
    if _is_join(expr):
        return _join_parts(expr.left) + _join_parts(expr.right)
    return [expr]


def _is_join(expr: ast.Expr) -> bool:
    """Whether ``+`` certainly joins text: a side is text that is no number.

    Static types are not enough: a STRING (a variable set to ``"3"``, a TRIM)
    may hold numeric text, which ``+`` adds.
    """
    if not (isinstance(expr, ast.Binary) and expr.operator == "+"):
        return False
    return _no_number(expr.left) or _no_number(expr.right)


def _no_number(expr: ast.Expr) -> bool:
    while isinstance(expr, ast.Paren):
        expr = expr.inner
    if isinstance(expr, ast.String):
        return not _reads_as_number(expr.value)
    return _never_number(expr)


def _never_number(expr: ast.Expr) -> bool:
    """A join holding a character no number has: no text it builds is a
    number (``"kiln/" + {id}``; but ``"-" + {n}`` may read as one)."""
    while isinstance(expr, ast.Paren):
        expr = expr.inner
    if isinstance(expr, ast.String):
        return any(
            c not in _NUMBER_CHARACTERS and not c.isspace() and not c.isdecimal()
            for c in expr.value
        )
    return _is_join(expr) and (_never_number(expr.left) or _never_number(expr.right))


# What numeric text may hold, inf and nan included, as lot.number reads it.
_NUMBER_CHARACTERS = frozenset("0123456789+-.eEiInNfFtTyYaA")


def _reads_as_number(text: str) -> bool:
    text = text.strip()
    if not text or "_" in text:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Lowering:
    """One static method per expression node, named after the AST class."""

    @staticmethod
    def _Number(expr: ast.Number, scope: Scope) -> str:
        if "." in expr.text:
            return repr(float(expr.text))
        return repr(int(expr.text))

    @staticmethod
    def _String(expr: ast.String, scope: Scope) -> str:
        return repr(expr.value)

    @staticmethod
    def _Boolean(expr: ast.Boolean, scope: Scope) -> str:
        return "True" if expr.value else "False"

    @staticmethod
    def _Empty(expr: ast.Empty, scope: Scope) -> str:
        return "None"

    @staticmethod
    def _Variable(expr: ast.Variable, scope: Scope) -> str:
        return scope.variable(expr.name)

    @staticmethod
    def _BareName(expr: ast.BareName, scope: Scope) -> str:
        # The older spelling of {name}; the checker rejects any other bare word.
        return scope.variable(expr.name)

    @staticmethod
    def _Payload(expr: ast.Payload, scope: Scope) -> str:
        return "run.text"

    @staticmethod
    def _TopicPosition(expr: ast.TopicPosition, scope: Scope) -> str:
        return f"run.level({expr.index})"

    @staticmethod
    def _SessionValue(expr: ast.SessionValue, scope: Scope) -> str:
        # Only session triggers may read these, and those are LOT402 already.
        return "None"

    @staticmethod
    def _GetTopic(expr: ast.GetTopic, scope: Scope) -> str:
        return f"run.get_topic({topic(expr.topic, scope)})"

    @staticmethod
    def _GetJson(expr: ast.GetJson, scope: Scope) -> str:
        return f"lot.get_json({expr.path.value!r}, {lower(expr.source, scope)})"

    @staticmethod
    def _GetEnv(expr: ast.GetEnv, scope: Scope) -> str:
        return f"run.env({expr.name.value!r})"

    @staticmethod
    def _GetSecret(expr: ast.GetSecret, scope: Scope) -> str:
        return f"run.secret({expr.name.value!r})"

    @staticmethod
    def _Timestamp(expr: ast.Timestamp, scope: Scope) -> str:
        return f"lot.timestamp({expr.format.value!r})"

    @staticmethod
    def _RandomBetween(expr: ast.RandomBetween, scope: Scope) -> str:
        kind = expr.kind or (DOUBLE if "." in expr.low + expr.high else INT)
        low = _Lowering._Number(ast.Number(expr.span, expr.low), scope)
        high = _Lowering._Number(ast.Number(expr.span, expr.high), scope)
        return f"lot.random_between({low}, {high}, {kind!r})"

    @staticmethod
    def _RandomUuid(expr: ast.RandomUuid, scope: Scope) -> str:
        return "lot.random_uuid()"

    @staticmethod
    def _Filter(expr: ast.Filter, scope: Scope) -> str:
        source = lower(expr.source, scope)
        return f"lot.regex_filter({source}, {expr.pattern.value!r})"

    @staticmethod
    def _Replace(expr: ast.Replace, scope: Scope) -> str:
        old, new = lower(expr.old, scope), lower(expr.new, scope)
        return f"lot.replace({old}, {new}, {lower(expr.source, scope)})"

    @staticmethod
    def _Trim(expr: ast.Trim, scope: Scope) -> str:
        return f"lot.trim({lower(expr.source, scope)})"

    @staticmethod
    def _Split(expr: ast.Split, scope: Scope) -> str:
        return f"lot.split_csv({lower(expr.source, scope)})"

    @staticmethod
    def _Cast(expr: ast.Cast, scope: Scope) -> str:
        if expr.type_name == "BYTES":
            return "run.payload"
        operand = lower(expr.operand, scope)
        function = _CASTS.get(expr.type_name)
        if function is None:
            scope.unsupported.append((expr.span, f"the cast `AS {expr.type_name}`"))
            return operand
        if expr.type_name == "TIMESTAMP" and expr.format is not None:
            return f"{function}({operand}, {expr.format.value!r})"
        return f"{function}({operand})"

    @staticmethod
    def _Unary(expr: ast.Unary, scope: Scope) -> str:
        if expr.operator == "NOT":
            return f"(not {condition(expr.operand, scope)})"
        operand = lower(expr.operand, scope)
        # Not for DOUBLE: Python's -0.0 would print "-0", lot.neg gives 0.
        if scope.type_of(expr.operand).type == INT:
            return f"(-{operand})"
        return f"lot.neg({operand})"

    @staticmethod
    def _Binary(expr: ast.Binary, scope: Scope) -> str:
        operator = expr.operator
        if operator in ("AND", "OR"):
            joiner = " and " if operator == "AND" else " or "
            left, right = condition(expr.left, scope), condition(expr.right, scope)
            return f"({left}{joiner}{right})"
        left_type = scope.type_of(expr.left).type
        right_type = scope.type_of(expr.right).type
        both_numeric = left_type in NUMERIC and right_type in NUMERIC
        if operator == "+":
            if _is_join(expr):
                parts = (lower(part, scope) for part in _join_parts(expr))
                return f"lot.join({', '.join(parts)})"
            left, right = lower(expr.left, scope), lower(expr.right, scope)
            if both_numeric:
                return f"({left} + {right})"
            return f"lot.add({left}, {right})"
        left, right = lower(expr.left, scope), lower(expr.right, scope)
        if operator in _NUMERIC_COMPARISONS and both_numeric:
            return f"({left} {operator} {right})"
        if operator in _COMPARISONS:
            return f"{_COMPARISONS[operator]}({left}, {right})"
        if operator in ("-", "*") and both_numeric:
            return f"({left} {operator} {right})"
        if operator in _ARITHMETIC:
            return f"{_ARITHMETIC[operator]}({left}, {right})"
        scope.unsupported.append((expr.span, f"the operator `{operator}`"))
        return "None"

    @staticmethod
    def _Paren(expr: ast.Paren, scope: Scope) -> str:
        return lower(expr.inner, scope)

    @staticmethod
    def _IfValue(expr: ast.IfValue, scope: Scope) -> str:
        test = condition(expr.condition, scope)
        then, otherwise = lower(expr.then, scope), lower(expr.otherwise, scope)
        return f"({then} if {test} else {otherwise})"

    @staticmethod
    def _JsonObject(expr: ast.JsonObject, scope: Scope) -> str:
        members = ", ".join(
            f"{member.key.value!r}: {lower(member.value, scope)}"
            for member in expr.members
        )
        return "{" + members + "}"
