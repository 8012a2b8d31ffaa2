"""Topics: filters are valid MQTT and publish targets name topics that exist.

Input: a ``Site``.  Output: LOT301 for filters MQTT would refuse (ON TOPIC,
ON CHANGE, ON SUBSCRIBE, model and field topics, route and bridge
SOURCE_TOPIC), LOT302 for targets that cannot name one topic (PUBLISH TOPIC,
KEEP TOPIC, PUBLISH MODEL ... TO, GET TOPIC, route DESTINATION_TOPIC and
device topics, bridge DESTINATION_TOPIC), LOT303 for empty topic levels.

Targets are checked after constant folding: ``fold`` turns a topic
expression into a ``TopicPattern`` of known text and unknown parts.  A ``+``
level in a target is filled from the trigger topic: the n-th ``+`` of the
target takes the segment the n-th ``+`` of the trigger filter matched, so a
target may hold as many ``+`` levels as the trigger filter has.  ``#`` never
stands in a target.  The graph and code generation use ``fold`` and the
route readings here (``route_topics``, ``bridge_mappings``) too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic, Span
from lotc.frontend.patterns import (
    HASH,
    PLUS,
    Part,
    Text,
    TopicPattern,
    Unknown,
    empty_level_problems,
    filter_problems,
    literal_at,
    literal_span,
)
from lotc.frontend.site import Site
from lotc.frontend.walk import node_fields

TOPIC_TRIGGERS = frozenset({"TOPIC", "CHANGE"})
FILTER_TRIGGERS = frozenset({"TOPIC", "CHANGE", "SUBSCRIBE"})
DEVICE_ROUTE_TYPES = frozenset(
    {
        "MODBUS",
        "MODBUS_TCP",
        "MODBUS_SERIAL",
        "SIEMENS_S7",
        "S7",
        "OPCUA",
        "ADS",
        "ALLEN_BRADLEY",
        "ETHERNETIP",
        "FINS",
        "BACNET",
    }
)
SELF = "SELF"
_WRITES = (ast.PublishTopic, ast.KeepTopic, ast.PublishModel)
_COLLECTED = frozenset(
    _WRITES + (ast.Set, ast.GetTopic, ast.CallAction, ast.CallPython, ast.CallService)
)
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


# ------------------------------------------------------------ folding


def nodes_below(node: ast.Node) -> Iterator[ast.Node]:
    """Every node below ``node`` (itself included), like ``walk.walk`` but
    with the children of a node last first."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for name in node_fields(type(current)):
            value = getattr(current, name)
            if isinstance(value, ast.Node):
                stack.append(value)
            elif isinstance(value, tuple):
                stack.extend(v for v in value if isinstance(v, ast.Node))


def fold(expr: ast.Expr, action: ast.Action | None = None) -> TopicPattern:
    """The topic ``expr`` names, as far as it is known before run time."""
    return Folder(action).fold(expr)


def folder_of(site: Site, action: ast.Action) -> Folder:
    """The action's ``Folder``, made once for the checks and the graph."""
    return site.shared("folder", action, lambda: Folder(action))


def trigger_filter(action: ast.Action | None) -> str | None:
    """The filter of an ON TOPIC or ON CHANGE action, else None."""
    trigger = action.trigger if action else None
    if trigger is None or trigger.kind not in TOPIC_TRIGGERS or trigger.text is None:
        return None
    return trigger.text.value


class Folder:
    """Folds the topic expressions of one action.

    String literals joined with ``+`` fold to their text; a variable folds
    when every SET of it in the action folds to the same constant (or it is
    set once); ``TOPIC POSITION n`` folds to level n of the trigger filter
    when that level is literal.  Everything else stays unknown.
    """

    def __init__(self, action: ast.Action | None) -> None:
        filter_text = trigger_filter(action)
        self.trigger_levels = filter_text.split("/") if filter_text else None
        # One walk of the action finds what the checks and the graph need.
        self.assignments: dict[str, list[ast.Set | None]] = {}
        self.writes: list[ast.PublishTopic | ast.KeepTopic | ast.PublishModel] = []
        self.reads: list[ast.GetTopic] = []
        if action is not None:
            self._collect(action)
        self._folding: set[str] = set()
        self._variables: dict[str, tuple[Part, ...]] = {}

    def _collect(self, action: ast.Action) -> None:
        """Every assignment of each variable (None for one that is not a SET:
        an INPUT, a RETURN or CALL result, whose value is never known), every
        write to a topic and every GET TOPIC."""
        found = self.assignments
        for item in action.inputs:
            found.setdefault(item.name, []).append(None)
        for node in nodes_below(action):
            if type(node) not in _COLLECTED:
                continue
            if isinstance(node, ast.Set):
                found.setdefault(node.name.value, []).append(node)
            elif isinstance(node, _WRITES):
                self.writes.append(node)
            elif isinstance(node, ast.GetTopic):
                self.reads.append(node)
            elif isinstance(node, ast.CallAction):
                for name in node.returns:
                    found.setdefault(name, []).append(None)
            elif isinstance(node, (ast.CallPython, ast.CallService)) and node.result:
                found.setdefault(node.result, []).append(None)

    def fold(self, expr: ast.Expr) -> TopicPattern:
        return TopicPattern(self._parts(expr))

    def _parts(self, expr: ast.Expr) -> tuple[Part, ...]:
        if isinstance(expr, ast.String):
            return (Text(expr.value, expr),) if expr.value else ()
        if isinstance(expr, ast.Number):
            return (Text(expr.text, expr),)
        if isinstance(expr, ast.Paren):
            return self._parts(expr.inner)
        if isinstance(expr, ast.Binary) and expr.operator == "+":
            if isinstance(expr.left, ast.Number) and isinstance(expr.right, ast.Number):
                return (Unknown("{?}", expr),)
            return self._parts(expr.left) + self._parts(expr.right)
        if isinstance(expr, ast.Variable):
            return self._variable(expr)
        if isinstance(expr, ast.TopicPosition):
            return self._position(expr)
        if isinstance(expr, ast.Replace):
            return self._replace(expr)
        if isinstance(expr, ast.Cast) and expr.type_name == "STRING":
            return self._parts(expr.operand)
        return (Unknown(_label(expr), expr),)

    def _variable(self, var: ast.Variable) -> tuple[Part, ...]:
        if var.name not in self._variables:
            self._variables[var.name] = self._value_of(var.name)
        # The text now stands where the variable is used: carets point there.
        return tuple(
            Text(p.value, var) if isinstance(p, Text) else Unknown(p.label, var)
            for p in self._variables[var.name]
        )

    def _value_of(self, name: str) -> tuple[Part, ...]:
        unknown = (Unknown(f"{{{name}}}"),)
        sets = self.assignments.get(name)
        if not sets or None in sets or name in self._folding:
            return unknown

        self._folding.add(name)
        folded = [self.fold(s.value) for s in sets]
        self._folding.discard(name)

        if len(folded) > 1:
            texts = {pattern.constant for pattern in folded}
            if len(texts) != 1 or None in texts:
                return unknown
        parts = folded[0].parts
        return parts if any(isinstance(p, Text) for p in parts) else unknown

    def _position(self, node: ast.TopicPosition) -> tuple[Part, ...]:
        levels = self.trigger_levels
        if levels and 1 <= node.index <= len(levels):
            level = levels[node.index - 1]
            if PLUS not in level and HASH not in level:
                return (Text(level, node),)
        return (Unknown(f"{{topic.{node.index}}}", node),)

    def _replace(self, node: ast.Replace) -> tuple[Part, ...]:
        old, new, source = (
            self.fold(e).constant for e in (node.old, node.new, node.source)
        )
        if old is None or new is None or source is None or not old:
            return (Unknown(_label(node), node),)
        return (Text(source.replace(old, new), node),)


def _label(expr: ast.Expr) -> str:
    if isinstance(expr, ast.Payload):
        return "{payload}"
    return "{?}"


def route_pattern(literal: ast.String) -> TopicPattern:
    """A route topic: ``{...}`` placeholders are filled per message by the route."""
    parts: list[Part] = []
    position = 0
    for match in _PLACEHOLDER.finditer(literal.value):
        if match.start() > position:
            parts.append(
                Text(literal.value[position : match.start()], literal, position)
            )
        parts.append(Unknown(match.group(), literal))
        position = match.end()
    if position < len(literal.value):
        parts.append(Text(literal.value[position:], literal, position))
    return TopicPattern(tuple(parts))


# ------------------------------------------------------------ routes


@dataclass(frozen=True)
class RouteTopic:
    """A topic a (non-bridge) route listens on or publishes to."""

    route: ast.Route
    block: ast.RouteBlock
    key: str
    literal: ast.String
    publishes: bool
    # A device mapping's SOURCE_TOPIC: each tag publishes under it.
    prefix: bool = False

    @property
    def pattern(self) -> TopicPattern:
        pattern = route_pattern(self.literal)
        if not self.prefix:
            return pattern
        tag = (Text("/", self.literal), Unknown("{tag}", self.literal))
        return TopicPattern(pattern.parts + tag)


@dataclass(frozen=True)
class BridgeMapping:
    """One MAPPING of an MQTT_BRIDGE and the brokers on either side of it."""

    route: ast.Route
    block: ast.RouteBlock
    source: ast.String | None
    destination: ast.String | None
    direction: str
    source_broker: str
    destination_broker: str

    @property
    def name(self) -> str:
        return (
            f"{self.route.name.text}.{self.block.name.text if self.block.name else '?'}"
        )

    def hops(self) -> list[tuple[str, str]]:
        """(read broker, write broker) pairs: SOURCE_TOPIC is always read and
        DESTINATION_TOPIC written; ``in`` reads on the DESTINATION_CONFIG
        broker and writes on the SOURCE_CONFIG one, ``both`` does both."""
        out = (self.source_broker, self.destination_broker)
        back = (self.destination_broker, self.source_broker)
        return {"in": [back], "both": [out, back]}.get(self.direction, [out])


def is_bridge(route: ast.Route) -> bool:
    return route.route_type == "MQTT_BRIDGE"


def _blocks(items) -> Iterator[ast.RouteBlock]:
    for item in items:
        if isinstance(item, ast.RouteBlock):
            yield item
            yield from _blocks(item.items)


def _settings(block: ast.RouteBlock) -> dict[str, ast.SettingValue]:
    return {s.key: s.value for s in block.items if isinstance(s, ast.Setting)}


def _literal(value: ast.SettingValue | None) -> ast.String | None:
    if value is None or value.kind not in ("string", "quoted"):
        return None
    return literal_at(value.span, value.text)


def route_topics(route: ast.Route) -> list[RouteTopic]:
    """The topics of an event or device route, in source order.

    Event routes listen on SOURCE_TOPIC and publish results to
    DESTINATION_TOPIC.  Device routes publish polled values to a tag's
    SOURCE_TOPIC or a mapping's DESTINATION_TOPIC, and listen for writes on a
    tag's DESTINATION_TOPIC.
    """
    if is_bridge(route):
        return []
    device = route.route_type in DEVICE_ROUTE_TYPES
    found = []
    for block in _blocks(route.items):
        for key, value in _settings(block).items():
            literal = _literal(value)
            if literal is None or key not in ("SOURCE_TOPIC", "DESTINATION_TOPIC"):
                continue
            if not device:
                publishes = key == "DESTINATION_TOPIC"
            elif block.kind == "TAG":
                publishes = key == "SOURCE_TOPIC"
            else:
                publishes = True
            prefix = device and block.kind != "TAG" and key == "SOURCE_TOPIC"
            found.append(RouteTopic(route, block, key, literal, publishes, prefix))
    return found


def bridge_mappings(route: ast.Route) -> list[BridgeMapping]:
    if not is_bridge(route):
        return []
    configs = {b.kind: b for b in route.items if isinstance(b, ast.RouteBlock)}
    source_broker = _broker(route, configs.get("SOURCE_CONFIG"), "SOURCE_CONFIG")
    destination_broker = _broker(
        route, configs.get("DESTINATION_CONFIG"), "DESTINATION_CONFIG"
    )
    found = []
    for block in _blocks(route.items):
        if block.kind != "MAPPING":
            continue
        settings = _settings(block)
        direction = settings.get("DIRECTION")
        found.append(
            BridgeMapping(
                route,
                block,
                _literal(settings.get("SOURCE_TOPIC")),
                _literal(settings.get("DESTINATION_TOPIC")),
                direction.text.lower() if direction else "out",
                source_broker,
                destination_broker,
            )
        )
    return found


def _broker(route: ast.Route, block: ast.RouteBlock | None, kind: str) -> str:
    """A name for the broker a bridge config block connects to.

    ``BROKER SELF`` is the site's own broker; a remote one is named by its
    address, so two bridges to the same address meet on the same broker.
    """
    settings = _settings(block) if block else {}
    if "BROKER" in settings and settings["BROKER"].kind == "self":
        return SELF
    address = settings.get("BROKER_ADDRESS")
    if address is None:
        return f"{route.name.text}.{kind}"
    return f"env {address.text}" if address.kind == "env" else address.text


# ------------------------------------------------------------ the pass

_ANY_PLUS = 1 << 30  # outside actions, `+` in GET TOPIC is not checked
_FILL_NOTE = (
    "the n-th `+` of a target is filled with the level that the n-th `+` of "
    "the trigger filter matched"
)
_BOTH_NOTE = (
    'with DIRECTION "both" the mapping also writes SOURCE_TOPIC from what '
    "DESTINATION_TOPIC matched"
)
_EMPTY_LEVEL_HELP = (
    "a leading, trailing or doubled `/` makes a level with no name; "
    "remove it unless it is meant"
)


def check_topics(site: Site) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for entity in site.entities():
        if isinstance(entity, ast.Action):
            found.extend(_action_topics(site, entity))
        elif isinstance(entity, ast.Model):
            found.extend(_model_topics(entity))
        elif isinstance(entity, ast.Route):
            found.extend(_route_topics(entity))
    return found


def check_filter(literal: ast.String) -> list[Diagnostic]:
    """LOT301 for the first reason MQTT would refuse the filter, else LOT303."""
    problems = filter_problems(literal.value)
    severe = [p for p in problems if p.severe]
    if severe:
        span = _caret(literal, severe[0].index)
        reason = severe[0].reason
        return [messages.INVALID_FILTER.at(span, topic=literal.value, reason=reason)]
    return [
        messages.EMPTY_TOPIC_LEVEL.at(
            _caret(literal, p.index), topic=literal.value, help=_EMPTY_LEVEL_HELP
        )
        for p in problems[:1]
    ]


def _caret(literal: ast.String, index: int | None) -> Span:
    return literal.span if index is None else literal_span(literal, index)


@dataclass(frozen=True)
class Filler:
    """Where the ``+`` levels of a target are filled from: ``plus`` levels of
    ``filter``; ``missing`` says why there are none when ``filter`` is None."""

    filter: str | None
    plus: int
    missing: str = ""

    @classmethod
    def of_action(cls, action: ast.Action) -> Filler:
        text = trigger_filter(action)
        if text is None:
            why = f"`{action.name.text}` has no trigger topic to fill `+` from"
            return cls(None, 0, why)
        return cls(text, text.split("/").count(PLUS))


def check_target(pattern: TopicPattern, span: Span, filler: Filler) -> list[Diagnostic]:
    """LOT302 for the first reason ``pattern`` names no single topic, else LOT303."""
    reason, index = _target_problem(pattern.flat, filler)
    where = (pattern.locate(index) if index is not None else None) or span
    topic = pattern.display
    if reason:
        notes = (_FILL_NOTE,) if reason.startswith("the trigger filter") else ()
        return [
            messages.WILDCARD_TARGET.at(where, topic=topic, reason=reason, notes=notes)
        ]
    return [
        messages.EMPTY_TOPIC_LEVEL.at(
            pattern.locate(p.index) or span, topic=topic, help=_EMPTY_LEVEL_HELP
        )
        for p in empty_level_problems(pattern.flat)[:1]
    ]


def _target_problem(flat: str, filler: Filler) -> tuple[str | None, int | None]:
    if not flat:
        return "a topic cannot be empty", None
    if "\0" in flat:
        return "it contains a NUL character", flat.index("\0")
    start = count = 0
    for level in flat.split("/"):
        if HASH in level:
            return "`#` only stands in subscription filters", start + level.index(HASH)
        if level == PLUS:
            count += 1
            if count > filler.plus:
                return _unfilled(filler), start
        elif PLUS in level:
            return "`+` stands only as a whole level", start + level.index(PLUS)
        start += len(level) + 1
    return None, None


def _unfilled(filler: Filler) -> str:
    if filler.filter is None:
        return filler.missing
    return f"the trigger filter `{filler.filter}` {_plus_count(filler.plus)}"


def _plus_count(plus: int) -> str:
    if plus == 0:
        return "has no `+` to fill it from"
    return f"has only {plus} `+` to fill it from"


def _action_topics(site: Site, action: ast.Action) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    trigger = action.trigger
    if trigger and trigger.kind in FILTER_TRIGGERS and trigger.text is not None:
        found.extend(check_filter(trigger.text))

    folder, filler = folder_of(site, action), Filler.of_action(action)
    for node in folder.writes + folder.reads:
        found.extend(check_target(folder.fold(node.topic), node.topic.span, filler))
    return found


def _model_topics(model: ast.Model) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for option in model.options:
        if option.kind == "TOPIC" and option.value is not None:
            found.extend(check_filter(literal_at(option.span, option.value)))

    anything = Filler("", _ANY_PLUS)
    for node in nodes_below(model):
        if isinstance(node, ast.FieldSource) and node.topic is not None:
            found.extend(check_filter(node.topic))
        elif isinstance(node, ast.GetTopic):
            found.extend(check_target(fold(node.topic), node.topic.span, anything))
    return found


def _route_topics(route: ast.Route) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for topic in route_topics(route):
        if not topic.publishes:
            found.extend(check_filter(topic.literal))
            continue
        if route.route_type in DEVICE_ROUTE_TYPES:
            why = "a device route publishes each value to one topic"
        else:
            why = "a route fills topics with placeholders such as `{topic.2}`, not `+`"
        filler = Filler(None, 0, why)
        found.extend(check_target(topic.pattern, topic.literal.span, filler))
    for mapping in bridge_mappings(route):
        found.extend(_bridge_topics(mapping))
    return found


def _bridge_topics(mapping: BridgeMapping) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for literal in (mapping.source, mapping.destination):
        if literal is not None:
            found.extend(check_filter(literal))
    if found or mapping.source is None or mapping.destination is None:
        return found

    pairs = [(mapping.source, mapping.destination)]
    if mapping.direction == "both":
        pairs.append((mapping.destination, mapping.source))
    for read, written in pairs:
        problem = _carried_wildcards(read.value, written.value)
        if problem:
            reason, index = problem
            notes = (_BOTH_NOTE,) if written is mapping.source else ()
            found.append(
                messages.WILDCARD_TARGET.at(
                    _caret(written, index),
                    topic=written.value,
                    reason=reason,
                    notes=notes,
                )
            )
            break
    return found


def _carried_wildcards(read: str, written: str) -> tuple[str, int] | None:
    """Why a bridge cannot write ``written`` from what ``read`` matched.

    The written topic either names one topic (every message lands there) or
    carries the wildcards of the read filter in order: as many ``+`` levels,
    and ``#`` last exactly when the read filter ends in ``#``.
    """
    levels = written.split("/")
    offsets = [sum(len(level) + 1 for level in levels[:i]) for i in range(len(levels))]
    plus = [offsets[i] for i, level in enumerate(levels) if level == PLUS]
    hashed = levels[-1] == HASH
    if not plus and not hashed:
        return None

    read_levels = read.split("/")
    read_plus, read_hashed = read_levels.count(PLUS), read_levels[-1] == HASH
    end = len(written) - 1
    if len(plus) > read_plus:
        return f"`{read}` {_plus_count(read_plus)}", plus[read_plus]
    if len(plus) < read_plus:
        reason = f"`{read}` has {read_plus} `+` to carry over and it has {len(plus)}"
        return reason, plus[-1] if plus else end
    if hashed and not read_hashed:
        return f"`{read}` does not end in `#`, so nothing fills `#`", end
    if read_hashed and not hashed:
        return f"`{read}` ends in `#`, and the levels it matches have no place", end
    return None
