"""Trigger context: values that exist only for some triggers, and literal forms.

Input: a ``Site``.  Output: diagnostics for PAYLOAD and TOPIC POSITION outside
topic triggers, session values outside session triggers, bare names in
actions, and TIMESTAMP formats that are not formats.
"""

from __future__ import annotations

import re

from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic, Label
from lotc.frontend.site import Site

TOPIC_TRIGGERS = frozenset({"TOPIC", "CHANGE"})
SESSION_TRIGGERS = frozenset({"CONNECT", "DISCONNECT", "SUBSCRIBE"})
BUILT_IN_TIMESTAMPS = frozenset({"UTC", "ISO", "UNIX", "UNIX-MS"})
# .NET-style date and time tokens; other characters are separators, and `T`
# and `Z` may stand as literals, as in ISO 8601 patterns.
_TIMESTAMP_PATTERN = re.compile(
    r"(?:yyyy|yy|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|fff|ff|f"
    r"|tt|t|zzz|zz|z|K|T|Z|'[^']*'|[^A-Za-z])*"
)


def check_context(site: Site) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for entity in site.entities():
        nodes = site.nodes(entity)
        if isinstance(entity, ast.Action):
            found.extend(_trigger_context(entity, nodes))
        found.extend(_timestamp_formats(nodes))
    return found


def _timestamp_formats(nodes: list[ast.Node]) -> list[Diagnostic]:
    found = []
    for node in nodes:
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


def _trigger_context(action: ast.Action, nodes: list[ast.Node]) -> list[Diagnostic]:
    trigger = action.trigger.kind if action.trigger else None
    described = _trigger_description(action)
    assigned = {node.name.value for node in nodes if isinstance(node, ast.Set)} | {
        item.name for item in action.inputs
    }
    # The nodes come in walk order, so each top-level statement is followed by
    # the nodes below it: the latest one seen is the statement a node is in.
    top_level = {id(statement): statement for statement in action.body}
    statement = None
    found = []
    for node in nodes:
        statement = top_level.get(id(node), statement)
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
        elif isinstance(node, ast.TopicPosition):
            found.extend(_position_depth(node, action.trigger))
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


def _position_depth(node: ast.TopicPosition, trigger: ast.Trigger) -> list[Diagnostic]:
    """TOPIC POSITION n must name a level of the trigger filter (1-based)."""
    if trigger.text is None or node.index < 1:
        return []
    topic_filter = trigger.text.value
    levels = topic_filter.split("/")
    depth = len(levels)
    if levels[-1] == "#" and node.index >= depth:
        return [
            messages.POSITION_UNDER_WILDCARD.at(
                node.span,
                index=node.index,
                filter=topic_filter,
                notes=("a message on a shorter topic gives an empty value",),
                help="compare the value with `EMPTY` before using it, or match "
                "the level with `+`",
            )
        ]
    if node.index <= depth:
        return []
    return [
        messages.POSITION_OUT_OF_RANGE.at(
            node.span,
            index=node.index,
            filter=topic_filter,
            depth=f"{depth} level{'s' if depth != 1 else ''}",
            labels=(Label(trigger.text.span, "the trigger filter"),),
            help=f"positions count from 1; this filter has levels 1 to {depth}",
        )
    ]
