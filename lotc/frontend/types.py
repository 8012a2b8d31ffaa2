"""Types: a type for every expression, and operations that cannot succeed.

Input: a ``Site``.  Output: diagnostics for operations that can never
succeed (arithmetic on a text literal that is no number, on a boolean or on
JSON), casts of literals that can never convert, and values that cannot fit
a model field or an action input of the declared type.

LoT converts text to numbers implicitly, so text whose shape is unknown at
compile time (a payload, a topic value, a topic level: type TEXT) is allowed
wherever a number is; only what is known statically is reported.  The rules
are written out in docs/semantics.md ("Types").  ``infer`` is public: code
generation uses the same types to choose conversions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.names import model_fields
from lotc.frontend.site import Site

STRING, INT, DOUBLE, BOOL = "STRING", "INT", "DOUBLE", "BOOL"
TIMESTAMP, JSON, BYTES, TEXT, ANY = "TIMESTAMP", "JSON", "BYTES", "TEXT", "ANY"
NUMERIC = frozenset({INT, DOUBLE})
_CAST_RESULT = {
    "STRING": STRING,
    "INT": INT,
    "DOUBLE": DOUBLE,
    "BOOL": BOOL,
    "TIMESTAMP": TIMESTAMP,
    "ARRAY": JSON,
    "OBJECT": JSON,
    "JSON": JSON,
    "BYTES": BYTES,
}
# What a failed conversion gives at run time (reference 5.6).
_CAST_FALLBACK = {INT: "0", DOUBLE: "0.0", BOOL: "false"}
_ARITHMETIC = frozenset({"-", "*", "/", "%"})
_ORDERING = frozenset({"<", ">", "<=", ">="})
_BOOLEAN_TEXT = frozenset({"true", "false", "1", "0"})


@dataclass(frozen=True)
class Typed:
    """A type, and the value when it is a literal known at compile time."""

    type: str
    constant: object = None


def check_types(site: Site) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for entity in site.entities():
        if isinstance(entity, ast.Action):
            found.extend(_ActionTypes(site, entity).check())
        elif isinstance(entity, ast.Model):
            found.extend(_model_defaults(site.nodes(entity)))
    return found


def infer(expr: ast.Expr, variables: dict[str, Typed] | None = None) -> Typed:
    """The type of an expression, given the types of the variables it reads."""
    return _Inference(variables or {}, []).infer(expr)


class _Inference:
    def __init__(self, variables: dict[str, Typed], found: list[Diagnostic]):
        self.variables = variables
        self.found = found

    def infer(self, node: ast.Expr) -> Typed:
        method = getattr(self, "_" + type(node).__name__, None)
        return method(node) if method else Typed(TEXT)

    def _Number(self, node: ast.Number) -> Typed:
        if "." in node.text:
            return Typed(DOUBLE, float(node.text))
        return Typed(INT, int(node.text))

    def _String(self, node: ast.String) -> Typed:
        return Typed(STRING, node.value)

    def _Boolean(self, node: ast.Boolean) -> Typed:
        return Typed(BOOL, node.value)

    def _Empty(self, node) -> Typed:
        return Typed(ANY)

    def _Variable(self, node: ast.Variable) -> Typed:
        return self.variables.get(node.name, Typed(ANY))

    def _BareName(self, node) -> Typed:
        return Typed(ANY)

    def _Timestamp(self, node: ast.Timestamp) -> Typed:
        unix = node.format.value.upper() in ("UNIX", "UNIX-MS")
        return Typed(INT if unix else TIMESTAMP)

    def _RandomBetween(self, node: ast.RandomBetween) -> Typed:
        if node.kind:
            return Typed(INT if node.kind == "INT" else DOUBLE)
        whole = "." not in node.low and "." not in node.high
        return Typed(INT if whole else DOUBLE)

    def _RandomUuid(self, node) -> Typed:
        return Typed(STRING)

    def _Filter(self, node: ast.Filter) -> Typed:
        self.infer(node.source)
        return Typed(STRING)

    def _Trim(self, node: ast.Trim) -> Typed:
        self.infer(node.source)
        return Typed(STRING)

    def _Replace(self, node: ast.Replace) -> Typed:
        for part in (node.old, node.new, node.source):
            self.infer(part)
        return Typed(STRING)

    def _Split(self, node: ast.Split) -> Typed:
        self.infer(node.source)
        return Typed(JSON)

    def _GetModel(self, node) -> Typed:
        return Typed(JSON)

    def _JsonObject(self, node: ast.JsonObject) -> Typed:
        for member in node.members:
            self.infer(member.value)
        return Typed(JSON)

    def _GetJson(self, node: ast.GetJson) -> Typed:
        self.infer(node.source)
        return Typed(TEXT)

    def _GetTopic(self, node: ast.GetTopic) -> Typed:
        self.infer(node.topic)
        return Typed(TEXT)

    def _Paren(self, node: ast.Paren) -> Typed:
        return self.infer(node.inner)

    def _IfValue(self, node: ast.IfValue) -> Typed:
        self.infer(node.condition)
        return _join(self.infer(node.then), self.infer(node.otherwise))

    def _Unary(self, node: ast.Unary) -> Typed:
        operand = self.infer(node.operand)
        if node.operator == "NOT":
            return Typed(BOOL)
        if not _may_be_number(operand):
            self._impossible(node, "-", operand)
            return Typed(ANY)
        return Typed(operand.type if operand.type in NUMERIC else DOUBLE)

    def _Cast(self, node: ast.Cast) -> Typed:
        operand = self.infer(node.operand)
        result = _CAST_RESULT.get(node.type_name, ANY)
        if result == BYTES and not isinstance(node.operand, ast.Payload):
            self.found.append(
                messages.IMPOSSIBLE_CAST.at(
                    node.span,
                    value="a value other than `PAYLOAD`",
                    type="BYTES",
                    help="forward the raw payload with `PAYLOAD AS BYTES`",
                )
            )
        elif isinstance(operand.constant, str) and not _text_converts(
            operand.constant, result
        ):
            fallback = _CAST_FALLBACK.get(result, "no usable value")
            self.found.append(
                messages.IMPOSSIBLE_CAST.at(
                    node.span,
                    value=f'the text "{operand.constant}"',
                    type=node.type_name,
                    notes=(f"at run time the cast would give {fallback}",),
                    help=f"write a {node.type_name} value, or drop the cast",
                )
            )
        return Typed(result)

    def _Binary(self, node: ast.Binary) -> Typed:
        left, right = self.infer(node.left), self.infer(node.right)
        operator = node.operator
        if operator in ("AND", "OR"):
            return Typed(BOOL)
        if operator in _ARITHMETIC or operator in _ORDERING:
            for side in (left, right):
                if not _may_be_number(side) and not (
                    operator in _ORDERING and side.type == TIMESTAMP
                ):
                    self._impossible(node, operator, left, right)
                    return Typed(BOOL if operator in _ORDERING else ANY)
            if operator in _ORDERING:
                return Typed(BOOL)
            both_int = left.type == INT and right.type == INT
            return Typed(INT if both_int and operator != "/" else DOUBLE)
        if operator == "+":
            if BYTES in (left.type, right.type):
                self._impossible(node, "+", left, right)
                return Typed(ANY)
            if left.type in NUMERIC and right.type in NUMERIC:
                both_int = left.type == INT and right.type == INT
                return Typed(INT if both_int else DOUBLE)
            if STRING in (left.type, right.type) and not (
                _numeric_text(left) and _numeric_text(right)
            ):
                return Typed(STRING)
            return Typed(ANY)
        return Typed(BOOL)

    def _impossible(self, node, operator, left: Typed, right: Typed | None = None):
        operands = _describe(left)
        if right is not None:
            operands += " and " + _describe(right)
        self.found.append(
            messages.IMPOSSIBLE_OPERATION.at(
                node.span,
                operator=operator,
                operands=operands,
                help="convert the value first, or compute it in Python",
            )
        )


def _describe(typed: Typed) -> str:
    if isinstance(typed.constant, str):
        return f'the text "{typed.constant}"'
    article = "an" if typed.type[0] in "AEIOU" else "a"
    return f"{article} {typed.type} value"


def _may_be_number(typed: Typed) -> bool:
    if typed.type in NUMERIC or typed.type in (TEXT, ANY):
        return True
    if typed.type == STRING:
        return typed.constant is None or _numeric_text(typed)
    return False


def _numeric_text(typed: Typed) -> bool:
    if typed.type in NUMERIC:
        return True
    if not isinstance(typed.constant, str):
        return typed.type in (TEXT, ANY)
    try:
        float(typed.constant)
    except ValueError:
        return False
    return True


def _text_converts(text: str, result: str) -> bool:
    if result in NUMERIC:
        return _numeric_text(Typed(STRING, text.strip()))
    if result == BOOL:
        # As the runtime reads it: true/false in any case, or a number
        # (non-zero is true).
        return text.strip().lower() in _BOOLEAN_TEXT or _numeric_text(
            Typed(STRING, text.strip())
        )
    if result == JSON:
        try:
            json.loads(text)
        except ValueError:
            return False
    return True


def _join(a: Typed, b: Typed) -> Typed:
    if a.type == b.type:
        return Typed(a.type)
    if a.type in NUMERIC and b.type in NUMERIC:
        return Typed(DOUBLE)
    return Typed(ANY)


def fits(value: Typed, declared: str) -> bool:
    """Whether a value of this type can be stored in a field or input."""
    if value.type in (ANY, TEXT) or declared in (STRING, "STRING"):
        return value.type != BYTES
    if declared in NUMERIC:
        return _may_be_number(value) and value.type not in (BOOL, TIMESTAMP)
    if declared == BOOL:
        if value.type == BOOL:
            return True
        if isinstance(value.constant, str):
            return value.constant.strip().lower() in _BOOLEAN_TEXT
        if value.type in NUMERIC:
            return value.constant in (None, 0, 1)
        return False
    if declared == TIMESTAMP:
        return value.type in (TIMESTAMP, STRING, INT)
    if declared in ("OBJECT", "ARRAY", JSON):
        if value.type == JSON:
            return True
        return isinstance(value.constant, str) and _text_converts(value.constant, JSON)
    return True


# The nodes ``_ActionTypes.statement`` looks at; no AST class derives from
# another, so the type alone says which these are.
_TYPED_NODES = frozenset(
    {
        ast.Set,
        ast.PublishTopic,
        ast.KeepTopic,
        ast.Branch,
        ast.PublishModel,
        ast.CallAction,
        ast.CallPython,
        ast.CallService,
    }
)


class _ActionTypes:
    """Types of one action's expressions, in statement order."""

    def __init__(self, site: Site, action: ast.Action) -> None:
        self.site = site
        self.action = action
        self.found: list[Diagnostic] = []
        self.variables = {
            item.name: Typed(_CAST_RESULT.get(item.type_name, ANY))
            for item in action.inputs
        }
        self.inference = _Inference(self.variables, self.found)

    def check(self) -> list[Diagnostic]:
        for node in self.site.nodes(self.action):
            if type(node) in _TYPED_NODES:
                self.statement(node)
        return self.found

    def statement(self, node) -> None:
        if isinstance(node, ast.Set):
            typed = self.inference.infer(node.value)
            name = node.name.value
            previous = self.variables.get(name)
            self.variables[name] = typed if previous is None else _join(previous, typed)
        elif isinstance(node, (ast.PublishTopic, ast.KeepTopic)):
            self.inference.infer(node.topic)
            self.inference.infer(node.value)
        elif isinstance(node, ast.Branch):
            self.inference.infer(node.condition)
        elif isinstance(node, ast.PublishModel):
            self.publish_model(node)
        elif isinstance(node, ast.CallAction):
            self.call_action(node)
        elif isinstance(node, (ast.CallPython, ast.CallService)):
            arguments = node.arguments or ()
            for argument in arguments:
                self.inference.infer(getattr(argument, "value", argument))
            if node.result:
                # JSON text for objects and lists, plain text for numbers and
                # strings: nothing about its shape is known here.
                self.variables[node.result] = Typed(TEXT)

    def publish_model(self, node: ast.PublishModel) -> None:
        self.inference.infer(node.topic)
        model = self.site.models.get(node.model.text)
        fields = model_fields(self.site, model) if model else {}
        for assignment in node.fields:
            typed = self.inference.infer(assignment.value)
            field = fields.get(assignment.path[0])
            if len(assignment.path) == 1 and isinstance(field, ast.ModelField):
                self.check_fit(typed, field.type_name, assignment, field.name.value)

    def call_action(self, node: ast.CallAction) -> None:
        target = self.site.actions.get(node.action.text)
        inputs = {item.name: item for item in target.inputs} if target else {}
        for argument in node.arguments:
            typed = self.inference.infer(argument.value)
            declared = inputs.get(argument.name)
            if declared is not None and not fits(typed, declared.type_name):
                self.found.append(
                    messages.INPUT_TYPE_MISMATCH.at(
                        argument.value.span,
                        found=_describe(typed),
                        name=argument.name,
                        expected=declared.type_name,
                        help=f"convert it, e.g. `... AS {declared.type_name}`",
                    )
                )
        for name in node.returns:
            self.variables[name] = Typed(ANY)

    def check_fit(self, typed: Typed, declared, where, name: str) -> None:
        if declared is None or fits(typed, declared):
            return
        self.found.append(
            messages.FIELD_TYPE_MISMATCH.at(
                where.value.span,
                found=_describe(typed),
                name=name,
                expected=declared,
                help=f"give the field a {declared} value, or change its type",
            )
        )


def _model_defaults(nodes: list[ast.Node]) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for node in nodes:
        if not (isinstance(node, ast.ModelField) and node.source is not None):
            continue
        if node.source.kind != "value" or node.type_name is None:
            continue
        typed = _Inference({}, found).infer(node.source.value)
        if not fits(typed, node.type_name):
            found.append(
                messages.FIELD_TYPE_MISMATCH.at(
                    node.source.value.span,
                    found=_describe(typed),
                    name=node.name.value,
                    expected=node.type_name,
                    help=f"give the field a {node.type_name} default",
                )
            )
    return found
