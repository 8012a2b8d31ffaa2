"""Loops in the site graph: messages that come back to where they started.

Input: a ``SiteGraph`` from ``lotc.frontend.graph``.  Output: LOT310 for an
ON TOPIC action that unconditionally publishes into its own trigger filter
(every topic the target can be is matched by the filter: ``covers``),
LOT311 for cycles of delivered messages through several entities, LOT312 for
bridge mappings that forward messages back into their own source.

Only delivered messages make loops: PUBLISH TOPIC, PUBLISH MODEL, topic-bound
model output, route results and bridge hops.  KEEP TOPIC and GET TOPIC are
left out, since a kept value reaches no subscriber and a read runs nothing.
Cycles are found with Tarjan's strongly connected components, so the search
stays linear in the size of the graph; each component is reported once, with
its shortest cycle through its first entity.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from lotc.frontend import messages
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.patterns import TopicPattern, covers, overlap

if TYPE_CHECKING:
    from lotc.frontend.graph import SiteGraph, Use

_CHANGE_NOTE = (
    "an ON CHANGE action runs again only when the payload differs from the "
    "last one on that topic, so whether this repeats depends on the payload"
)
Successors = dict[str, dict[str, "Use"]]


def find_loops(graph: SiteGraph) -> list[Diagnostic]:
    by_entity: dict[str, list[Use]] = {}
    for use in graph.uses:
        by_entity.setdefault(use.entity, []).append(use)
    successors = _successors(graph)
    return (
        _self_publishes(graph, by_entity)
        + _bridge_self_loops(graph, by_entity)
        + _cycles(graph, successors)
    )


# ------------------------------------------------------------ one entity


def _self_publishes(graph: SiteGraph, by_entity) -> list[Diagnostic]:
    found = []
    for key, action in sorted(graph.actions.items()):
        trigger = action.trigger
        if (
            trigger is None
            or trigger.kind not in ("TOPIC", "CHANGE")
            or not trigger.text
        ):
            continue
        own = TopicPattern.of(trigger.text.value)
        for use in by_entity.get(key, ()):
            if not (use.produces and use.delivered):
                continue
            if not use.unconditional or not covers(own, use.pattern):
                continue
            found.append(_self_publish(action, trigger.kind, use))
    return found


def _self_publish(action, kind: str, use: Use) -> Diagnostic:
    name, topic = action.name.text, use.pattern.display
    if kind == "CHANGE":
        cycle = f"{name} -> {topic} -> {name}"
        return messages.PUBLISH_CYCLE.at(use.span, cycle=cycle, notes=(_CHANGE_NOTE,))
    return messages.PUBLISH_LOOP.at(
        use.span,
        name=name,
        topic=topic,
        notes=(f"`{action.trigger.text.value}` matches `{topic}`",),
        help="publish under an IF that ends the loop, or to a topic the "
        "trigger filter does not match",
    )


def _bridge_self_loops(graph: SiteGraph, by_entity) -> list[Diagnostic]:
    found = []
    for key, mapping in sorted(graph.mappings.items()):
        mine = by_entity.get(key, [])
        reads = [use for use in mine if not use.produces]
        for write in (use for use in mine if use.produces):
            back = [r for r in reads if r.broker == write.broker]
            if any(overlap(write.pattern, r.pattern) for r in back):
                found.append(
                    messages.BRIDGE_LOOP.at(
                        write.span,
                        mapping=mapping.name,
                        topic=write.pattern.display,
                        notes=(_bridge_note(mapping, write),),
                        help="give DESTINATION_TOPIC a prefix that SOURCE_TOPIC "
                        "does not match",
                    )
                )
                break
    return found


def _bridge_note(mapping, write: Use) -> str:
    where = "this broker" if write.broker == "SELF" else f"`{write.broker}`"
    return (
        f"on {where} SOURCE_TOPIC `{mapping.source.value}` matches what the "
        f'mapping writes (DIRECTION "{mapping.direction}")'
    )


# ------------------------------------------------------------ cycles


def _successors(graph: SiteGraph) -> Successors:
    """Entity -> entity it can run -> the write that runs it (first in order)."""
    matched: dict[str, list[str]] = {}
    for produced, consumed in graph.matches:
        matched.setdefault(produced, []).append(consumed)
    triggered: dict[str, list[Use]] = {}
    for use in graph.uses:
        if not use.produces and use.trigger:
            triggered.setdefault(use.topic, []).append(use)

    successors: Successors = {}
    # One entity into itself is LOT310 (actions) or LOT312 (mappings).
    alone = {
        key for key, node in graph.nodes.items() if node.kind in ("action", "mapping")
    }
    for use in graph.uses:
        if not (use.produces and use.delivered):
            continue
        targets = successors.setdefault(use.entity, {})
        for topic in matched.get(use.topic, ()):
            for reader in triggered.get(topic, ()):
                if reader.entity == use.entity and reader.entity in alone:
                    continue
                targets.setdefault(reader.entity, use)
    return successors


def _cycles(graph: SiteGraph, successors: Successors) -> list[Diagnostic]:
    found = []
    for members in _components(sorted(successors), successors):
        start = members[0]
        if len(members) == 1 and start not in successors.get(start, {}):
            continue
        cycle = _shortest_cycle(start, set(members), successors)
        text = _cycle_text(graph, cycle, successors)
        first = successors[cycle[0]][cycle[1]]
        if all(graph.nodes[m].kind == "mapping" for m in members):
            found.append(
                messages.BRIDGE_LOOP.at(
                    first.span,
                    mapping=graph.nodes[start].label,
                    topic=first.pattern.display,
                    notes=(f"the mappings forward to each other: {text}",),
                )
            )
        else:
            found.append(messages.PUBLISH_CYCLE.at(first.span, cycle=text))
    return found


def _cycle_text(graph: SiteGraph, cycle: list[str], successors: Successors) -> str:
    words = [graph.nodes[cycle[0]].label]
    for here, there in zip(cycle, cycle[1:], strict=False):
        words += [successors[here][there].pattern.display, graph.nodes[there].label]
    return " -> ".join(words)


def _shortest_cycle(start: str, members: set[str], successors: Successors) -> list[str]:
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        for there in sorted(successors.get(here, {})):
            if there == start:
                path = [here]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return path[::-1] + [start]
            if there in members and there not in parents:
                parents[there] = here
                queue.append(there)
    return [start, start]


def _components(nodes: list[str], successors: Successors) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def enter(node: str) -> tuple:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        return node, iter(sorted(successors.get(node, {})))

    for root in nodes:
        if root in index:
            continue
        work = [enter(root)]
        while work:
            node, pending = work[-1]
            for child in pending:
                if child not in index:
                    work.append(enter(child))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    found.append(sorted(component))
    return found
