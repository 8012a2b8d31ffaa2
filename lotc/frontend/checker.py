"""Site checks: rules that need more than one node, over all files of a site.

Input: the parsed modules of one site.  Output: diagnostics, in no particular
order (the caller sorts them).  Checked here: entity names defined twice, and
values that only exist for some triggers (PAYLOAD and TOPIC POSITION outside
topic triggers, session values outside session triggers, bare names in
actions).  Name resolution, types and the topic graph build on this module.
"""

from __future__ import annotations

import re

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


BUILT_IN_TIMESTAMPS = frozenset({"UTC", "ISO", "UNIX", "UNIX-MS"})
# .NET-style date and time tokens; other characters are separators, and `T`
# and `Z` may stand as literals, as in ISO 8601 patterns.
_TIMESTAMP_PATTERN = re.compile(
    r"(?:yyyy|yy|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|fff|ff|f"
    r"|tt|t|zzz|zz|z|K|T|Z|'[^']*'|[^A-Za-z])*"
)


def check_site(modules: list[ast.Module]) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    diagnostics.extend(_duplicate_entities(modules))
    for module in modules:
        for entity in module.entities:
            if isinstance(entity, ast.Action):
                diagnostics.extend(_trigger_context(entity))
            elif isinstance(entity, ast.Route):
                diagnostics.extend(_route_nesting(entity))
            diagnostics.extend(_timestamp_formats(entity))
    return diagnostics


def _timestamp_formats(entity: ast.Entity) -> list[Diagnostic]:
    found = []
    for node in walk(entity):
        if not isinstance(node, ast.Timestamp):
            continue
        text = node.format.value
        if text.upper() in BUILT_IN_TIMESTAMPS or (
            text and _TIMESTAMP_PATTERN.fullmatch(text)
        ):
            continue
        found.append(
            messages.TIMESTAMP_FORMAT.at(
                node.format.span,
                format=text,
                notes=(
                    "formats are UTC, ISO, UNIX, UNIX-MS or a pattern such "
                    'as "yyyy-MM-dd HH:mm:ss"',
                ),
            )
        )
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


def _route_nesting(route: ast.Route) -> list[Diagnostic]:
    """TAG blocks live inside MAPPING blocks; every other block at route level."""
    found = []
    for item in route.items:
        if not isinstance(item, ast.RouteBlock):
            continue
        if item.kind == "TAG":
            found.append(
                messages.MISPLACED_BLOCK.at(
                    item.span,
                    kind="TAG",
                    place="directly in a route",
                    help="indent it under an `ADD MAPPING name` block",
                )
            )
        for inner in item.items:
            if isinstance(inner, ast.RouteBlock) and (
                inner.kind != "TAG" or item.kind != "MAPPING"
            ):
                found.append(
                    messages.MISPLACED_BLOCK.at(
                        inner.span,
                        kind=inner.kind,
                        place=f"inside `ADD {item.kind}`",
                        help="only `ADD TAG` nests, and only inside `ADD MAPPING`",
                    )
                )
    return found


def _trigger_context(action: ast.Action) -> list[Diagnostic]:
    trigger = action.trigger.kind if action.trigger else None
    described = _trigger_description(action)
    assigned = {
        node.name.value for node in walk(action) if isinstance(node, ast.Set)
    } | {item.name for item in action.inputs}
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
                if node.name in assigned:
                    found.append(
                        messages.LEGACY_SYNTAX.at(
                            node.span,
                            form=f"the variable `{node.name}` without braces",
                            help=f"write `{{{node.name}}}`",
                        )
                    )
                    continue
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
