"""Site checks: rules that need more than one node, over all files of a site.

Input: the parsed modules of one site.  Output: diagnostics, in no particular
order (the caller sorts them).  Checked here: entity names defined twice, and
values that only exist for some triggers (PAYLOAD and TOPIC POSITION outside
topic triggers, session values outside session triggers, bare names in
actions).  Name resolution, types and the topic graph build on this module.
"""

from __future__ import annotations

from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic, Label
from lotc.frontend.walk import walk

TOPIC_TRIGGERS = frozenset({"TOPIC", "CHANGE"})
SESSION_TRIGGERS = frozenset({"CONNECT", "DISCONNECT", "SUBSCRIBE"})
_KIND_WORDS = {
    ast.Action: "action",
    ast.Model: "model",
    ast.Route: "route",
    ast.Rule: "rule",
}


def check_site(modules: list[ast.Module]) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    diagnostics.extend(_duplicate_entities(modules))
    for module in modules:
        for entity in module.entities:
            if isinstance(entity, ast.Action):
                diagnostics.extend(_trigger_context(entity))
    return diagnostics


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


def _trigger_context(action: ast.Action) -> list[Diagnostic]:
    trigger = action.trigger.kind if action.trigger else None
    described = _trigger_description(action)
    found = []
    for statement in action.body:
        for node in walk(statement):
            if (
                isinstance(node, (ast.Payload, ast.TopicPosition))
                and trigger not in TOPIC_TRIGGERS
            ):
                word = "PAYLOAD" if isinstance(node, ast.Payload) else "TOPIC POSITION"
                found.append(
                    messages.PAYLOAD_OUTSIDE_TOPIC.at(
                        node.span,
                        word=word,
                        notes=(f"`{action.name.text}` {described}",),
                        help='read a stored value with `GET TOPIC "..."` instead',
                    )
                )
            elif isinstance(node, ast.SessionValue) and trigger not in SESSION_TRIGGERS:
                found.append(
                    messages.SESSION_OUTSIDE_SESSION.at(
                        node.span,
                        word=node.keyword,
                        notes=(f"`{action.name.text}` {described}",),
                    )
                )
            elif isinstance(node, ast.BareName) and not isinstance(
                statement, ast.TriggerRoute
            ):
                found.append(
                    messages.BARE_NAME.at(
                        node.span,
                        name=node.name,
                        help=(
                            f"refer to a variable as `{{{node.name}}}`, "
                            f'or quote text as `"{node.name}"`'
                        ),
                    )
                )
    return found


def _trigger_description(action: ast.Action) -> str:
    if action.trigger is None:
        return "is a callable action" if action.inputs else "has no trigger"
    return f"runs `ON {action.trigger.kind}`"
