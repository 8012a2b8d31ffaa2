"""Lowering of one action: its body as Python statements, its trigger, its imports.

Input: a checked ``ast.Action`` (no errors in the site) and the lowering
context of its site.  Output: an ``ActionView``, plain sorted data for the
``action.py.j2`` template: the body is a list of already indented lines, the
trigger the text of one ``lot_runtime`` constructor.  Constructs the runtime
cannot run yet are collected as LOT402/LOT403 diagnostics; the view is still
complete, so one build reports every such construct of the site.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from lotc.codegen import expressions as ex
from lotc.codegen.naming import PyName, module_name, python_name
from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.topics import fold
from lotc.frontend.types import ANY, Typed

# Names generated code uses inside an action function; LoT variables that
# would shadow them are renamed.
RESERVED = frozenset(
    {"run", "lot", "models", "scripts", "execute", "call", "Execution", "Action"}
    | {"range", "RuntimeError", "tuple", "object", "None", "True", "False"}
)
# A LOOP whose UNTIL never holds would stall the whole site: it is abandoned
# after this many rounds (docs/semantics.md, "Code generation").
LOOP_LIMIT = 100_000

_SECONDS = {
    "MILLISECOND": 0.001,
    "SECOND": 1,
    "MINUTE": 60,
    "HOUR": 3600,
    "DAY": 86400,
    "WEEK": 604800,
}
_WEEKDAYS = {
    "MONDAY": (0,),
    "TUESDAY": (1,),
    "WEDNESDAY": (2,),
    "THURSDAY": (3,),
    "FRIDAY": (4,),
    "SATURDAY": (5,),
    "SUNDAY": (6,),
    "WEEKDAY": (0, 1, 2, 3, 4),
    "WEEKEND": (5, 6),
}
_SESSION_TRIGGERS = {"CONNECT", "DISCONNECT", "SUBSCRIBE"}


@dataclass(frozen=True)
class Parameter:
    name: PyName
    cast: str  # the Python text converting the argument, e.g. lot.as_int(x)


@dataclass
class ActionView:
    """What ``action.py.j2`` renders for one action."""

    name: str
    module: PyName
    source: str  # "file.lot:LINE"
    summary: str  # the trigger as written, for the module docstring
    trigger: str | None  # constructor text, None for a callable action
    parameters: list[Parameter]
    outputs: list[PyName]
    body: list[str]
    uses_models: bool = False
    called_actions: list[PyName] = field(default_factory=list)
    scripts: list[PyName] = field(default_factory=list)
    trigger_filter: str | None = None
    publishes: list[str] = field(default_factory=list)  # topic patterns
    keeps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SiteNames:
    """What an action needs to know of the rest of the site."""

    package: PyName
    models: dict[str, PyName]
    actions: dict[str, ast.Action]
    scripts: dict[str, PyName]  # "# Script Name" -> module of package.scripts


def input_name(name: str) -> PyName:
    """The keyword of an INPUT, the same in the callee and every caller."""
    return python_name(name, taken=set(RESERVED))


def lower_action(
    action: ast.Action, names: SiteNames
) -> tuple[ActionView, list[Diagnostic]]:
    trigger_text = _trigger_filter(action)
    scope = ex.Scope(trigger_filter=trigger_text, reserved=set(RESERVED))
    scope.reserved |= {module_name(name) for name in names.actions}
    scope.reserved |= set(names.scripts.values())
    diagnostics: list[Diagnostic] = []
    view = ActionView(
        name=action.name.text,
        module=module_name(action.name.text),
        source=f"{action.span.file}:{action.span.line}",
        summary=_summary(action),
        trigger=None,
        parameters=[],
        outputs=[],
        body=[],
    )
    for item in action.inputs:
        python = input_name(item.name)
        scope.variables[item.name] = python
        scope.types[item.name] = Typed(_input_type(item.type_name))
        view.parameters.append(Parameter(python, _input_cast(item, python)))
    scope.reserved |= {p.name for p in view.parameters}
    _infer_variable_types(action.body, scope)

    view.trigger_filter = trigger_text
    printer = _Statements(scope, names, view, action)
    printer.block(action.body, depth=1)
    view.body = printer.lines
    view.outputs = [scope.variable(output.name) for output in action.outputs]
    view.trigger = _trigger(action, diagnostics)
    for span, construct in scope.unsupported:
        diagnostics.append(messages.UNSUPPORTED_STATEMENT.at(span, construct=construct))
    view.publishes = sorted(set(view.publishes))
    view.keeps = sorted(set(view.keeps))
    view.called_actions = sorted(set(view.called_actions))
    view.scripts = sorted(set(view.scripts))
    return view, diagnostics


def _trigger_filter(action: ast.Action) -> str | None:
    trigger = action.trigger
    if trigger and trigger.kind in ("TOPIC", "CHANGE") and trigger.text:
        return trigger.text.value
    return None


def _summary(action: ast.Action) -> str:
    trigger = action.trigger
    if trigger is None:
        return "a callable action"
    if trigger.kind in ("TOPIC", "CHANGE"):
        return f'ON {trigger.kind} "{trigger.text.value}"'
    if trigger.kind == "EVERY":
        return f"ON EVERY {trigger.amount} {trigger.unit}"
    if trigger.kind == "DAY":
        return f'ON EVERY {trigger.day} AT "{trigger.text.value}"'
    if trigger.kind == "TIMESTAMP":
        return f'ON TIMESTAMP "{trigger.text.value}"'
    return f"ON {trigger.kind}"


def _trigger(action: ast.Action, diagnostics: list[Diagnostic]) -> str | None:
    trigger = action.trigger
    if trigger is None:
        return None
    kind = trigger.kind
    if kind == "TOPIC":
        return f"OnTopic({trigger.text.value!r})"
    if kind == "CHANGE":
        return f"OnChange({trigger.text.value!r})"
    if kind == "START":
        return "OnStart()"
    if kind == "EVERY":
        seconds = float(trigger.amount) * _SECONDS[trigger.unit.removesuffix("S")]
        return f"Every({_number(seconds)})"
    if kind == "DAY":
        days = _WEEKDAYS[trigger.day]
        return f"Weekly({days!r}, {trigger.text.value!r})"
    if kind == "TIMESTAMP":
        return _timestamp_trigger(trigger.text.value)
    if kind in _SESSION_TRIGGERS:
        diagnostics.append(
            messages.UNSUPPORTED_TRIGGER.at(
                trigger.span,
                trigger=f"ON {kind}",
                help="session events are seen only inside the broker; "
                "watch `$SYS` topics or the client's own status topic instead",
            )
        )
        return None
    diagnostics.append(
        messages.UNSUPPORTED_STATEMENT.at(trigger.span, construct=f"`ON {kind}`")
    )
    return None


def _number(value: float) -> str:
    return repr(int(value)) if value == int(value) else repr(value)


def _timestamp_trigger(text: str) -> str:
    """``HH:mm[:ss]`` fires every day; ``dd-MM-yyyy HH:mm:ss`` fires once."""
    moment = re.fullmatch(r"(\d{2})-(\d{2})-(\d{4}) (\d{2}):(\d{2})(?::(\d{2}))?", text)
    if moment:
        day, month, year, hour, minute, second = moment.groups()
        when = datetime.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0)
        )
        return f"Once({when.isoformat()!r})"
    return f"Daily({text!r})"


_INPUT_TYPES = {"INT": "INT", "DOUBLE": "DOUBLE", "BOOL": "BOOL", "STRING": "STRING"}


def _input_type(type_name: str) -> str:
    return _INPUT_TYPES.get(type_name, ANY)


def _input_cast(item: ast.Input, python: PyName) -> str:
    cast = ex._CASTS.get(item.type_name)
    return f"{cast}({python})" if cast else python


def _infer_variable_types(body: tuple[ast.Statement, ...], scope: ex.Scope) -> None:
    """Give each variable the type all its SETs agree on, else ANY.  Three
    rounds settle variables that are set from one another."""
    for _ in range(3):
        seen: dict[str, Typed] = {}
        for statement in _statements(body):
            if isinstance(statement, ast.Set):
                typed = scope.type_of(statement.value)
                name = statement.name.value
                earlier = seen.get(name)
                if earlier is None:
                    seen[name] = Typed(typed.type)
                elif earlier.type != typed.type:
                    seen[name] = Typed(ANY)
            for target in _assigned_elsewhere(statement):
                seen[target] = Typed(ANY)
        scope.types.update(seen)


def _assigned_elsewhere(statement: ast.Statement) -> list[str]:
    if isinstance(statement, ast.CallAction):
        return list(statement.returns)
    if isinstance(statement, (ast.CallPython, ast.CallService)) and statement.result:
        return [statement.result]
    return []


def _statements(body):
    for statement in body:
        yield statement
        if isinstance(statement, ast.If):
            for branch in statement.branches:
                yield from _statements(branch.body)
            yield from _statements(statement.otherwise or ())
        elif isinstance(statement, ast.Switch):
            for case in statement.cases:
                yield from _statements(case.body)
            yield from _statements(statement.default or ())
        elif isinstance(statement, ast.Loop):
            yield from _statements(statement.body)


class _Statements:
    """Prints statements as indented Python lines (black tidies them later)."""

    def __init__(
        self, scope: ex.Scope, names: SiteNames, view: ActionView, action: ast.Action
    ):
        self.action = action
        self.scope = scope
        self.names = names
        self.view = view
        self.lines: list[str] = []

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def block(self, body: tuple[ast.Statement, ...], depth: int) -> None:
        if not body:
            self.emit(depth, "pass")
            return
        for statement in body:
            method = getattr(self, "_" + type(statement).__name__)
            method(statement, depth)

    def expr(self, node: ast.Expr) -> str:
        return ex.lower(node, self.scope)

    def _Set(self, node: ast.Set, depth: int) -> None:
        name = self.scope.variable(node.name.value)
        self.emit(depth, f"{name} = {self.expr(node.value)}")

    def _PublishTopic(self, node: ast.PublishTopic, depth: int) -> None:
        topic = ex.topic(node.topic, self.scope)
        self.view.publishes.append(fold(node.topic, self.action).key)
        self.emit(depth, f"run.publish({topic}, {self.expr(node.value)})")

    def _KeepTopic(self, node: ast.KeepTopic, depth: int) -> None:
        topic = ex.topic(node.topic, self.scope)
        self.view.keeps.append(fold(node.topic, self.action).key)
        self.emit(depth, f"run.keep({topic}, {self.expr(node.value)})")

    def _PublishModel(self, node: ast.PublishModel, depth: int) -> None:
        model = self.names.models[node.model.text]
        self.view.uses_models = True
        topic = ex.topic(node.topic, self.scope)
        self.view.publishes.append(fold(node.topic, self.action).key)
        values = _nested({a.path: self.expr(a.value) for a in node.fields})
        self.emit(depth, f"run.publish_model(models.{model}, {topic}, {values})")

    def _If(self, node: ast.If, depth: int) -> None:
        for index, branch in enumerate(node.branches):
            keyword = "if" if index == 0 else "elif"
            test = ex.condition(branch.condition, self.scope)
            self.emit(depth, f"{keyword} {test}:")
            self.block(branch.body, depth + 1)
        if node.otherwise is not None:
            self.emit(depth, "else:")
            self.block(node.otherwise, depth + 1)

    def _Switch(self, node: ast.Switch, depth: int) -> None:
        subject = self.scope.temporary("subject")
        self.emit(depth, f"{subject} = {self.expr(node.subject)}")
        for index, case in enumerate(node.cases):
            keyword = "if" if index == 0 else "elif"
            self.emit(depth, f"{keyword} lot.eq({subject}, {self.expr(case.value)}):")
            self.block(case.body, depth + 1)
        if node.default is not None:
            if node.cases:
                self.emit(depth, "else:")
                self.block(node.default, depth + 1)
            else:
                self.block(node.default, depth)

    def _Loop(self, node: ast.Loop, depth: int) -> None:
        self.emit(depth, f"for _round in range({LOOP_LIMIT:_}):")
        self.block(node.body, depth + 1)
        self.emit(depth + 1, f"if {ex.condition(node.until, self.scope)}:")
        self.emit(depth + 2, "break")
        self.emit(depth, "else:")
        message = f"LOOP ran {LOOP_LIMIT:,} rounds without its UNTIL holding"
        self.emit(depth + 1, f"raise RuntimeError({message!r})")

    def _CallAction(self, node: ast.CallAction, depth: int) -> None:
        callee = self.names.actions[node.action.text]
        module = module_name(callee.name.text)
        self.view.called_actions.append(module)
        arguments = ", ".join(
            f"{input_name(a.name)}={self.expr(a.value)}" for a in node.arguments
        )
        call = (
            f"{module}.call(run, {arguments})" if arguments else f"{module}.call(run)"
        )
        if node.returns:
            targets = ", ".join(self.scope.variable(n) for n in node.returns)
            if len(node.returns) == 1:
                targets = f"({targets},)"
            self.emit(depth, f"{targets} = {call}")
        else:
            self.emit(depth, call)

    def _CallPython(self, node: ast.CallPython, depth: int) -> None:
        script, _, function = node.target.value.partition(".")
        module = self.names.scripts[script]
        self.view.scripts.append(module)
        arguments = ", ".join(self.expr(a) for a in node.arguments or ())
        call = f"lot.python_result({module}.{function}({arguments}))"
        if node.result:
            self.emit(depth, f"{self.scope.variable(node.result)} = {call}")
        else:
            self.emit(depth, call)

    def _CallService(self, node: ast.CallService, depth: int) -> None:
        self.scope.unsupported.append((node.span, f"`CALL {node.kind}`"))
        if node.result:
            self.emit(depth, f"{self.scope.variable(node.result)} = None")

    def _TriggerRoute(self, node: ast.TriggerRoute, depth: int) -> None:
        self.scope.unsupported.append((node.span, "`TRIGGER` of a route event"))

    def _KeepStore(self, node: ast.KeepStore, depth: int) -> None:
        method = "keep_env" if node.store == "ENV" else "keep_secret"
        value = self.expr(node.value)
        self.emit(depth, f"run.{method}({node.name.value!r}, {value})")

    def _DeleteStore(self, node: ast.DeleteStore, depth: int) -> None:
        method = "delete_env" if node.store == "ENV" else "delete_secret"
        self.emit(depth, f"run.{method}({node.name.value!r})")


def _nested(values: dict[tuple[str, ...], str]) -> str:
    """A dict literal from dotted field paths: ("a", "b") -> {"a": {"b": ...}}."""
    tree: dict[str, object] = {}
    for path, value in values.items():
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    return _dict_text(tree)


def _dict_text(tree: dict[str, object]) -> str:
    members = []
    for key, value in tree.items():
        text = _dict_text(value) if isinstance(value, dict) else value
        members.append(f"{key!r}: {text}")
    return "{" + ", ".join(members) + "}"
