"""Names: entities defined once, and every reference resolved.

Input: a ``Site``.  Output: diagnostics for entities defined twice, variables
used before they are set on some path, calls to actions and Python functions
that do not exist or do not fit, and models, fields and parents that do not
exist.  After this pass every name the generated code will refer to exists.

Variables are tracked path by path: a variable is *set* at a use when every
path from the start of the action to that use sets it (an IF without ELSE
sets only what it sets before its IF; a LOOP body runs at least once).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic, Label, Span
from lotc.frontend.site import Site
from lotc.frontend.suggest import did_you_mean
from lotc.frontend.walk import walk

_KIND_WORDS = {
    ast.Action: "action",
    ast.Model: "model",
    ast.Route: "route",
    ast.Rule: "rule",
}


def check_names(site: Site) -> list[Diagnostic]:
    found = _duplicate_entities(site.modules)
    for entity in site.entities():
        if isinstance(entity, ast.Action):
            found.extend(_ActionNames(site, entity).check())
        elif isinstance(entity, ast.Model):
            found.extend(_model_references(site, entity))
    return found


def _duplicate_entities(modules: list[ast.Module]) -> list[Diagnostic]:
    first_seen: dict[tuple[str, str], ast.Name] = {}
    found = []
    for module in modules:
        for entity in module.entities:
            kind = _KIND_WORDS.get(type(entity))
            if kind is None:
                continue
            key = (kind, entity.name.text)
            if key not in first_seen:
                first_seen[key] = entity.name
                continue
            original = first_seen[key]
            found.append(
                messages.DUPLICATE_ENTITY.at(
                    entity.name.span,
                    kind=kind,
                    name=entity.name.text,
                    labels=(Label(original.span, "first defined here"),),
                    help=f"rename one of them, or delete the older {kind}",
                )
            )
    return found


# ---------------------------------------------------------------- models


def model_fields(site: Site, model: ast.Model) -> dict[str, ast.ModelField]:
    """Every field of a model, inherited ones first, by name (cycles cut)."""
    chain: list[ast.Model] = []
    current: ast.Model | None = model
    while current is not None and current not in chain:
        chain.append(current)
        current = site.models.get(_parent_name(current) or "")
    fields: dict[str, ast.ModelField] = {}
    for member in reversed(chain):
        for item in member.items:
            if isinstance(item, ast.ModelField):
                fields[item.name.value] = item
            elif isinstance(item, ast.ModelCollection):
                fields[item.name.value] = item
    return fields


def _parent_name(model: ast.Model) -> str | None:
    for option in model.options:
        if option.kind == "FROM" and option.name is not None:
            return option.name.text
    return None


def _model_references(site: Site, model: ast.Model) -> list[Diagnostic]:
    found = []
    for option in model.options:
        if option.kind != "FROM" or option.name is None:
            continue
        parent = option.name.text
        if parent not in site.models:
            others = [name for name in site.models if name != model.name.text]
            found.append(
                messages.UNKNOWN_PARENT.at(
                    option.name.span,
                    name=model.name.text,
                    parent=parent,
                    help=did_you_mean(parent, others)
                    or "define the parent model in the site",
                )
            )
        elif (cycle := _inheritance_cycle(site, model)) is not None and (
            model.name.text == min(cycle)
        ):  # one error per cycle, at the model whose name sorts first
            found.append(
                messages.INHERITANCE_CYCLE.at(
                    option.name.span,
                    name=model.name.text,
                    cycle=" -> ".join(cycle),
                    help="remove one `FROM` of the cycle",
                )
            )
    for node in site.nodes(model):
        if isinstance(node, ast.ModelCollection) and node.model.text not in site.models:
            found.append(_unknown_model(site, node.model))
    return found


def _inheritance_cycle(site: Site, model: ast.Model) -> list[str] | None:
    seen = [model.name.text]
    current = site.models.get(_parent_name(model) or "")
    while current is not None:
        seen.append(current.name.text)
        if current is model:
            return seen
        if current.name.text in seen[:-1]:
            return None
        current = site.models.get(_parent_name(current) or "")
    return None


def _unknown_model(site: Site, name: ast.Name) -> Diagnostic:
    return messages.UNKNOWN_MODEL.at(
        name.span,
        name=name.text,
        help=did_you_mean(name.text, site.models) or "define the model in the site",
    )


# ---------------------------------------------------------------- actions


class _ActionNames:
    """Resolves the names one action uses, following its paths."""

    def __init__(self, site: Site, action: ast.Action) -> None:
        self.site = site
        self.action = action
        self.found: list[Diagnostic] = []
        self.assignments = _assignments(site.nodes(action))

    def check(self) -> list[Diagnostic]:
        self.found.extend(_duplicate_inputs(self.action))
        initially = {item.name for item in self.action.inputs}
        at_end = self.block(self.action.body, initially)
        self.found.extend(_outputs_never_set(self.action, self.assignments))
        for output in self.action.outputs:
            if output.name in self.assignments and output.name not in at_end:
                first = self.assignments[output.name][0].name
                self.found.append(
                    messages.MAYBE_UNSET_VARIABLE.at(
                        output.span,
                        name=output.name,
                        labels=(Label(first, "set here, but not on every path"),),
                        help="set it on every path, e.g. in an ELSE as well",
                    )
                )
        return self.found

    # -- paths

    def block(self, statements, assigned: set[str]) -> set[str]:
        for statement in statements:
            assigned = self.statement(statement, assigned)
        return assigned

    def statement(self, statement, assigned: set[str]) -> set[str]:
        if isinstance(statement, ast.If):
            return self.if_statement(statement, assigned)
        if isinstance(statement, ast.Switch):
            self.uses(statement.subject, assigned)
            ends = []
            for case in statement.cases:
                self.uses(case.value, assigned)
                ends.append(self.block(case.body, set(assigned)))
            ends.append(
                self.block(statement.default, set(assigned))
                if statement.default is not None
                else assigned
            )
            return set.intersection(*ends)
        if isinstance(statement, ast.Loop):
            after = self.block(statement.body, set(assigned))
            self.uses(statement.until, after)
            return after
        for value in _values_of(statement):
            self.uses(value, assigned)
        self.resolve_call(statement)
        return assigned | set(_names_set_by(statement))

    def if_statement(self, statement: ast.If, assigned: set[str]) -> set[str]:
        ends = []
        for branch in statement.branches:
            self.uses(branch.condition, assigned)
            ends.append(self.block(branch.body, set(assigned)))
        if statement.otherwise is not None:
            ends.append(self.block(statement.otherwise, set(assigned)))
        else:
            ends.append(assigned)
        return set.intersection(*ends)

    def uses(self, value: ast.Expr, assigned: set[str]) -> None:
        for node in walk(value):
            if isinstance(node, ast.Variable) and node.name not in assigned:
                self.found.append(self.unset(node))

    def unset(self, node: ast.Variable) -> Diagnostic:
        places = self.assignments.get(node.name, [])
        use = (node.span.line, node.span.column)
        earlier = [p for p in places if (p.end.end_line, p.end.end_column) <= use]
        if earlier:
            return messages.MAYBE_UNSET_VARIABLE.at(
                node.span,
                name=node.name,
                labels=(Label(earlier[0].name, "set here, but not on every path"),),
                help=f'set it before this use, e.g. `SET "{node.name}" WITH ...`',
            )
        labels = (
            (Label(places[0].name, "set only here, after this use"),) if places else ()
        )
        known = set(self.assignments) | {item.name for item in self.action.inputs}
        return messages.UNDEFINED_VARIABLE.at(
            node.span,
            name=node.name,
            labels=labels,
            notes=(
                "variables start empty on every run of an action; to keep a "
                "value between runs, KEEP TOPIC it and GET TOPIC it back",
            )
            if places
            else (),
            help=did_you_mean(node.name, known - {node.name})
            or f'set it first with `SET "{node.name}" WITH ...`',
        )

    # -- calls and models

    def resolve_call(self, statement) -> None:
        if isinstance(statement, ast.CallAction):
            self.found.extend(_call_action(self.site, statement))
        elif isinstance(statement, ast.CallPython):
            self.found.extend(_call_python(self.site, statement))
        elif isinstance(statement, ast.PublishModel):
            self.found.extend(_publish_model(self.site, statement))


def _values_of(statement) -> Iterator[ast.Expr]:
    """The expressions a simple statement evaluates, in order."""
    if isinstance(statement, (ast.PublishTopic, ast.KeepTopic)):
        yield statement.topic
        yield statement.value
    elif isinstance(statement, ast.Set):
        yield statement.value
    elif isinstance(statement, ast.PublishModel):
        yield statement.topic
        for assignment in statement.fields:
            yield assignment.value
    elif isinstance(statement, (ast.CallAction, ast.CallService)):
        for argument in statement.arguments:
            yield argument.value
    elif isinstance(statement, ast.CallPython):
        yield from statement.arguments or ()
    elif isinstance(statement, ast.TriggerRoute):
        yield statement.target
        if statement.value is not None:
            yield statement.value
    elif isinstance(statement, ast.KeepStore):
        yield statement.value


# The nodes ``_names_set_by`` finds names in (no AST class derives from another).
_SETTING_NODES = frozenset({ast.Set, ast.CallAction, ast.CallPython, ast.CallService})


def _names_set_by(statement) -> Iterator[str]:
    if isinstance(statement, ast.Set):
        yield statement.name.value
    elif isinstance(statement, ast.CallAction):
        yield from statement.returns
    elif isinstance(statement, (ast.CallPython, ast.CallService)) and statement.result:
        yield statement.result


def _assignments(nodes: list[ast.Node]) -> dict[str, list]:
    """Where each variable is set anywhere in an action (given all its nodes),
    in source order."""
    places: dict[str, list[_Place]] = {}
    for node in nodes:
        if type(node) not in _SETTING_NODES:
            continue
        for name in _names_set_by(node):
            span = node.name.span if isinstance(node, ast.Set) else node.span
            places.setdefault(name, []).append(_Place(span, node.span))
    return places


@dataclass(frozen=True)
class _Place:
    """Where a variable is set: the name to point at, the statement it ends."""

    name: Span
    end: Span


def _duplicate_inputs(action: ast.Action) -> list[Diagnostic]:
    seen: dict[str, ast.Input] = {}
    found = []
    for item in action.inputs:
        if item.name in seen:
            found.append(
                messages.DUPLICATE_INPUT.at(
                    item.span,
                    name=item.name,
                    labels=(Label(seen[item.name].span, "first declared here"),),
                    help="give each input its own name",
                )
            )
        seen.setdefault(item.name, item)
    return found


def _outputs_never_set(action: ast.Action, assignments) -> list[Diagnostic]:
    inputs = {item.name for item in action.inputs}
    return [
        messages.OUTPUT_NEVER_SET.at(
            output.span,
            name=output.name,
            action=action.name.text,
            help=did_you_mean(output.name, assignments)
            or f'set it in the body with `SET "{output.name}" WITH ...`',
        )
        for output in action.outputs
        if output.name not in assignments and output.name not in inputs
    ]


def _call_action(site: Site, call: ast.CallAction) -> list[Diagnostic]:
    target = site.actions.get(call.action.text)
    if target is None:
        callable_names = [n for n, a in site.actions.items() if a.trigger is None]
        return [
            messages.UNKNOWN_ACTION.at(
                call.action.span,
                name=call.action.text,
                help=did_you_mean(call.action.text, callable_names)
                or "define it with `INPUT` lines and `DO`",
            )
        ]
    if target.trigger is not None:
        return [
            messages.NOT_CALLABLE.at(
                call.action.span,
                name=call.action.text,
                labels=(Label(target.trigger.span, "its trigger"),),
                help="publish to its trigger topic instead, or remove its `ON` "
                "line to make it callable",
            )
        ]
    found = []
    inputs = {item.name: item for item in target.inputs}
    given = set()
    for argument in call.arguments:
        given.add(argument.name)
        if argument.name not in inputs:
            found.append(
                messages.UNKNOWN_INPUT.at(
                    argument.span,
                    action=target.name.text,
                    name=argument.name,
                    help=did_you_mean(argument.name, inputs)
                    or _listing("its inputs are", inputs, "it takes no inputs"),
                )
            )
    for name, item in inputs.items():
        if name not in given:
            found.append(
                messages.MISSING_INPUT.at(
                    call.action.span,
                    action=target.name.text,
                    name=name,
                    labels=(Label(item.span, "declared here"),),
                    help=f"add `WITH {name} = ...`",
                )
            )
    if call.returns and len(call.returns) != len(target.outputs):
        outputs = len(target.outputs)
        targets = len(call.returns)
        found.append(
            messages.RETURN_COUNT.at(
                call.span,
                action=target.name.text,
                outputs=f"{outputs} value{'s' if outputs != 1 else ''}",
                targets=f"{targets} target{'s' if targets != 1 else ''}",
                are="is" if targets == 1 else "are",
                help="name one target per OUTPUT, in the order they are declared",
            )
        )
    return found


def _call_python(site: Site, call: ast.CallPython) -> list[Diagnostic]:
    target = call.target.value
    script_name, dot, function_name = target.partition(".")
    if not dot or not script_name or not function_name or "." in function_name:
        return [
            messages.BAD_PYTHON_TARGET.at(
                call.target.span,
                target=target,
                help='write the script name and the function: `"Script.function"`',
            )
        ]
    script = site.scripts.get(script_name)
    if script is None and script_name in site.broken_scripts:
        return []  # its syntax error is reported where it is
    if script is None:
        return [
            messages.UNKNOWN_SCRIPT.at(
                call.target.span,
                name=script_name,
                notes=(
                    "a script is a .py file whose first line is "
                    f"`# Script Name: {script_name}`",
                ),
                help=did_you_mean(script_name, site.scripts)
                or "add the script to the site folder",
            )
        ]
    function = script.functions.get(function_name)
    if function is None:
        return [
            messages.UNKNOWN_FUNCTION.at(
                call.target.span,
                script=script_name,
                name=function_name,
                help=did_you_mean(function_name, script.functions)
                or f"define `def {function_name}(...)` in {script.file}",
            )
        ]
    given = len(call.arguments or ())
    if given < function.required or (
        function.maximum is not None and given > function.maximum
    ):
        return [
            messages.ARITY_MISMATCH.at(
                call.span,
                target=target,
                expected=_arity_text(function.required, function.maximum),
                given=given,
                verb="is" if given == 1 else "are",
                notes=(
                    f"`{function_name}` is defined in {script.file}:{function.line}",
                ),
                help="pass one value per parameter, in the order they are defined",
            )
        ]
    return []


def _listing(lead: str, names, empty: str) -> str:
    """A help line naming every candidate, e.g. "its inputs are `a`, `b`"."""
    if not names:
        return empty
    return lead + " " + ", ".join(f"`{name}`" for name in names)


def _arity_text(required: int, maximum: int | None) -> str:
    def count(n: int) -> str:
        return f"{n} argument{'s' if n != 1 else ''}"

    if maximum is None:
        return f"at least {count(required)}"
    if maximum == required:
        return count(required)
    return f"{required} to {count(maximum)}"


def _publish_model(site: Site, statement: ast.PublishModel) -> list[Diagnostic]:
    model = site.models.get(statement.model.text)
    if model is None:
        return [_unknown_model(site, statement.model)]
    fields = model_fields(site, model)
    found = []
    given = set()
    for assignment in statement.fields:
        name = assignment.path[0]
        given.add(name)
        field = fields.get(name)
        if field is None:
            found.append(
                messages.UNKNOWN_FIELD.at(
                    assignment.span,
                    model=model.name.text,
                    name=name,
                    help=did_you_mean(name, fields)
                    or _listing("its fields are", fields, "it has no fields"),
                )
            )
            continue
        if len(assignment.path) > 1 and isinstance(field, ast.ModelField):
            found.extend(_nested_member(model, field, assignment))
    for name, field in fields.items():
        if name not in given and not _has_default(field):
            found.append(
                messages.UNFILLED_FIELD.at(
                    statement.model.span,
                    name=name,
                    model=model.name.text,
                    labels=(Label(field.span, "declared here"),),
                    help=f"set it with `{name} = ...`, or give it a default",
                )
            )
    return found


def _nested_member(model, field: ast.ModelField, assignment) -> list[Diagnostic]:
    members = {c.name.value: c for c in field.children if hasattr(c, "name")}
    if not members:
        return []
    name = assignment.path[1]
    if name in members:
        return []
    return [
        messages.UNKNOWN_FIELD.at(
            assignment.span,
            model=f"{model.name.text}.{field.name.value}",
            name=name,
            help=did_you_mean(name, members)
            or _listing("its members are", members, "it has no members"),
        )
    ]


def _has_default(field) -> bool:
    return isinstance(field, ast.ModelField) and field.source is not None
