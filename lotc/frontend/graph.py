"""The site graph: who publishes and who listens on which topics, and its loops.

Input: a ``Site``.  ``build_graph`` returns a ``SiteGraph``: a node for every
action, model, route and bridge mapping and for every topic pattern (one per
broker it lives on), producer edges from entities to the topics they write
and consumer edges from topics to the entities they reach.  A produced topic
is joined to every consumed filter it overlaps (see ``patterns.overlap``) by
a ``matches`` edge.  ``check_graph`` reports, from that graph:

- LOT310: an ON TOPIC action that publishes, outside any IF/SWITCH/LOOP, to
  a topic its own trigger filter matches;
- LOT311: a cycle of delivered messages through several entities, once per
  strongly connected group, naming one cycle of it in order;
- LOT312: a bridge mapping, or a ring of mappings, that forwards messages
  back into its own source.

KEEP TOPIC stores a value without delivering it: it is an edge of the graph
(GET TOPIC reads it) but never part of a loop.  ``render_graph`` prints the
graph as mermaid, dot or json; the output is sorted and so deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lotc.frontend import ast, graph_render, loops
from lotc.frontend.diagnostics import Diagnostic, Span
from lotc.frontend.patterns import FilterIndex, Text, TopicPattern, Unknown
from lotc.frontend.site import Site
from lotc.frontend.topics import (
    SELF,
    BridgeMapping,
    bridge_mappings,
    folder_of,
    is_bridge,
    nodes_below,
    route_topics,
    trigger_filter,
)

FORMATS = ("mermaid", "dot", "json")


@dataclass(frozen=True)
class GraphNode:
    id: str
    kind: str  # action, model, route, mapping or topic
    label: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, order=True)
class GraphEdge:
    source: str
    target: str
    kind: str  # publishes, keeps, triggers, reads, routes, bridges or matches


@dataclass(frozen=True)
class Use:
    """One entity writing (``produces``) or reading one topic pattern."""

    entity: str
    topic: str
    pattern: TopicPattern
    broker: str
    kind: str
    produces: bool
    span: Span
    delivered: bool = True  # a write that reaches subscribers (not KEEP)
    trigger: bool = True  # a read that runs the entity (not GET TOPIC)
    unconditional: bool = True


@dataclass
class SiteGraph:
    nodes: dict[str, GraphNode] = field(default_factory=dict)
    uses: list[Use] = field(default_factory=list)
    # (produced topic, consumed topic) for every overlapping pair, same ids too.
    matches: list[tuple[str, str]] = field(default_factory=list)
    mappings: dict[str, BridgeMapping] = field(default_factory=dict)
    actions: dict[str, ast.Action] = field(default_factory=dict)
    # Entity-to-entity edges: an action that fills a model with PUBLISH MODEL.
    links: set[GraphEdge] = field(default_factory=set)

    def edges(self) -> list[GraphEdge]:
        found = set()
        for use in self.uses:
            if use.produces:
                found.add(GraphEdge(use.entity, use.topic, use.kind))
            else:
                found.add(GraphEdge(use.topic, use.entity, use.kind))
        for produced, consumed in self.matches:
            if produced != consumed:
                found.add(GraphEdge(produced, consumed, "matches"))
        found |= {link for link in self.links if link.target in self.nodes}
        return sorted(found)

    def sorted_nodes(self) -> list[GraphNode]:
        return [self.nodes[key] for key in sorted(self.nodes)]


def check_graph(site: Site) -> list[Diagnostic]:
    return loops.find_loops(build_graph(site))


# ------------------------------------------------------------ building


def build_graph(site: Site) -> SiteGraph:
    graph = SiteGraph()
    for action in site.actions.values():
        _add_action(graph, site, action)
    for model in site.models.values():
        _add_model(graph, model)
    for route in site.routes.values():
        _add_route(graph, route)
    graph.matches = _match(graph.uses)
    return graph


def _entity(graph: SiteGraph, kind: str, name: str, node: ast.Node) -> str:
    key = f"{kind}:{name}"
    graph.nodes[key] = GraphNode(key, kind, name, node.span.file, node.span.line)
    return key


def _use(graph: SiteGraph, entity: str, pattern: TopicPattern, span: Span, **kw):
    broker = kw.pop("broker", SELF)
    key = f"topic:{broker}:{pattern.key}"
    if key not in graph.nodes:
        label = pattern.key if broker == SELF else f"{pattern.key} @ {broker}"
        graph.nodes[key] = GraphNode(key, "topic", label)
    graph.uses.append(Use(entity, key, pattern, broker, span=span, **kw))


def _add_action(graph: SiteGraph, site: Site, action: ast.Action) -> None:
    key = _entity(graph, "action", action.name.text, action)
    graph.actions[key] = action
    filter_text = trigger_filter(action)
    if filter_text is not None:
        literal = action.trigger.text
        pattern = TopicPattern.of(filter_text, literal)
        _use(graph, key, pattern, literal.span, kind="triggers", produces=False)

    folder = folder_of(site, action)
    for statement, conditional in _statements(action.body, False):
        if isinstance(statement, ast.PublishModel):
            model = f"model:{statement.model.text}"
            graph.links.add(GraphEdge(key, model, "fills"))
        if isinstance(statement, (ast.PublishTopic, ast.PublishModel, ast.KeepTopic)):
            kept = isinstance(statement, ast.KeepTopic)
            _use(
                graph,
                key,
                folder.fold(statement.topic),
                statement.topic.span,
                kind="keeps" if kept else "publishes",
                produces=True,
                delivered=not kept,
                unconditional=not conditional,
            )
    for node in folder.reads:
        pattern = folder.fold(node.topic)
        _use(
            graph, key, pattern, node.span, kind="reads", produces=False, trigger=False
        )


def _statements(body, conditional: bool) -> Iterator[tuple[ast.Statement, bool]]:
    """Every statement with whether it runs only under IF, SWITCH or LOOP."""
    for statement in body:
        yield statement, conditional
        for block in _blocks_of(statement):
            yield from _statements(block, True)


def _blocks_of(statement: ast.Statement) -> list[tuple]:
    if isinstance(statement, ast.If):
        blocks = [branch.body for branch in statement.branches]
        return blocks + ([statement.otherwise] if statement.otherwise else [])
    if isinstance(statement, ast.Switch):
        blocks = [case.body for case in statement.cases]
        return blocks + ([statement.default] if statement.default else [])
    if isinstance(statement, ast.Loop):
        return [statement.body]
    return []


def _add_model(graph: SiteGraph, model: ast.Model) -> None:
    key = _entity(graph, "model", model.name.text, model)
    below = nodes_below(model)
    sources = [n for n in below if isinstance(n, ast.FieldSource) and n.topic]
    for source in sources:
        kind = "triggers" if source.kind == "trigger" else "reads"
        pattern = TopicPattern.of(source.topic.value, source.topic)
        _use(
            graph,
            key,
            pattern,
            source.topic.span,
            kind=kind,
            produces=False,
            trigger=source.kind == "trigger",
        )

    base = next((o for o in model.options if o.kind == "TOPIC" and o.value), None)
    if base is None or not any(s.kind == "trigger" for s in sources):
        return
    # Not collapsed, a topic-bound model publishes each field under its topic.
    collapsed = any(o.kind == "COLLAPSED" for o in model.options)
    parts = (Text(base.value, base),)
    if not collapsed:
        parts += (Text("/", base), Unknown("{field}", base))
    pattern = TopicPattern(parts)
    _use(graph, key, pattern, base.span, kind="publishes", produces=True)


def _add_route(graph: SiteGraph, route: ast.Route) -> None:
    if is_bridge(route):
        for mapping in bridge_mappings(route):
            _add_mapping(graph, mapping)
        return
    key = _entity(graph, "route", route.name.text, route)
    for topic in route_topics(route):
        _use(
            graph,
            key,
            topic.pattern,
            topic.literal.span,
            kind="routes",
            produces=topic.publishes,
        )


def _add_mapping(graph: SiteGraph, mapping: BridgeMapping) -> None:
    key = _entity(graph, "mapping", mapping.name, mapping.block)
    graph.mappings[key] = mapping
    source, destination = mapping.source, mapping.destination
    if source is None or destination is None:
        return
    for read, write in mapping.hops():
        pattern = TopicPattern.of(source.value, source)
        _use(
            graph,
            key,
            pattern,
            source.span,
            kind="bridges",
            produces=False,
            broker=read,
        )
        pattern = TopicPattern.of(destination.value, destination)
        _use(
            graph,
            key,
            pattern,
            destination.span,
            kind="bridges",
            produces=True,
            broker=write,
        )


def _match(uses: list[Use]) -> list[tuple[str, str]]:
    """Every (produced topic, consumed topic) pair that overlaps on one broker."""
    indexes: dict[str, FilterIndex] = {}
    consumed: dict[str, Use] = {}
    for use in uses:
        if not use.produces and use.topic not in consumed:
            consumed[use.topic] = use
            indexes.setdefault(use.broker, FilterIndex()).add(
                use.pattern.levels, use.topic
            )
    produced = {use.topic: use for use in uses if use.produces}
    pairs = []
    for topic, use in sorted(produced.items()):
        index = indexes.get(use.broker)
        if index is not None:
            pairs.extend(
                (topic, hit) for hit in sorted(index.overlapping(use.pattern.levels))
            )
    return pairs


# ------------------------------------------------------------ rendering


def render_graph(site: Site, format: str) -> str:
    """The site graph as ``mermaid``, ``dot`` or ``json`` text."""
    if format not in FORMATS:
        raise ValueError(f"unknown graph format {format!r}; use one of {FORMATS}")
    graph = build_graph(site)
    return graph_render.RENDERERS[format](graph.sorted_nodes(), graph.edges())
