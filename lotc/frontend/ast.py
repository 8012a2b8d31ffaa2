"""The LoT abstract syntax tree: frozen dataclasses, one per LoT construct.

Built by ``lotc.frontend.build_ast`` from lark trees.  Every node carries the
``Span`` it was written at.  Nodes keep what the formatter needs to print the
source back (parentheses, the separator word a SET used, whether a chain was
written with ``AND_THEN``), and nothing of lark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from lotc.frontend.diagnostics import Span


@dataclass(frozen=True)
class Node:
    span: Span


@dataclass(frozen=True)
class Name(Node):
    """An entity name as written; ``quoted`` names are reported by the parser."""

    text: str
    quoted: bool = False


# --------------------------------------------------------------------- values


@dataclass(frozen=True)
class Number(Node):
    text: str


@dataclass(frozen=True)
class String(Node):
    value: str
    raw: str


@dataclass(frozen=True)
class Boolean(Node):
    value: bool
    raw: str


@dataclass(frozen=True)
class Empty(Node):
    pass


@dataclass(frozen=True)
class Variable(Node):
    """``{name}``: a variable set earlier, an INPUT, or a RETURN target."""

    name: str


@dataclass(frozen=True)
class BareName(Node):
    """A bare identifier: a model field in legacy models; an error in actions."""

    name: str


@dataclass(frozen=True)
class Payload(Node):
    pass


@dataclass(frozen=True)
class TopicPosition(Node):
    index: int


@dataclass(frozen=True)
class SessionValue(Node):
    keyword: str


@dataclass(frozen=True)
class GetTopic(Node):
    topic: Expr


@dataclass(frozen=True)
class GetJson(Node):
    path: String
    source: Expr


@dataclass(frozen=True)
class GetEnv(Node):
    name: String


@dataclass(frozen=True)
class GetSecret(Node):
    name: String


@dataclass(frozen=True)
class GetModel(Node):
    model: String
    route: String
    key: str
    value: Expr


@dataclass(frozen=True)
class Timestamp(Node):
    format: String
    legacy: bool = False


@dataclass(frozen=True)
class RandomBetween(Node):
    kind: str | None
    low: str
    high: str


@dataclass(frozen=True)
class RandomUuid(Node):
    pass


@dataclass(frozen=True)
class Filter(Node):
    source: Expr
    pattern: String
    chained: bool = False


@dataclass(frozen=True)
class Replace(Node):
    old: Expr
    new: Expr
    source: Expr
    chained: bool = False


@dataclass(frozen=True)
class Trim(Node):
    source: Expr
    chained: bool = False


@dataclass(frozen=True)
class Split(Node):
    source: Expr
    chained: bool = False


@dataclass(frozen=True)
class Cast(Node):
    operand: Expr
    type_name: str
    format: String | None = None


@dataclass(frozen=True)
class Unary(Node):
    operator: str
    operand: Expr


@dataclass(frozen=True)
class Binary(Node):
    """``operator`` is spelled as written (``==``, ``EQUALS``, ``NOT EQUALS``...)."""

    operator: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Paren(Node):
    inner: Expr


@dataclass(frozen=True)
class IfValue(Node):
    condition: Expr
    then: Expr
    otherwise: Expr


@dataclass(frozen=True)
class JsonMember(Node):
    key: String
    value: Expr


@dataclass(frozen=True)
class JsonObject(Node):
    members: tuple[JsonMember, ...]


Expr = Union[
    Number,
    String,
    Boolean,
    Empty,
    Variable,
    BareName,
    Payload,
    TopicPosition,
    SessionValue,
    GetTopic,
    GetJson,
    GetEnv,
    GetSecret,
    GetModel,
    Timestamp,
    RandomBetween,
    RandomUuid,
    Filter,
    Replace,
    Trim,
    Split,
    Cast,
    Unary,
    Binary,
    Paren,
    IfValue,
    JsonObject,
]

# ----------------------------------------------------------------- statements


@dataclass(frozen=True)
class Set(Node):
    name: String
    separator: str
    value: Expr


@dataclass(frozen=True)
class PublishTopic(Node):
    topic: Expr
    value: Expr


@dataclass(frozen=True)
class KeepTopic(Node):
    topic: Expr
    value: Expr


@dataclass(frozen=True)
class FieldAssignment(Node):
    path: tuple[str, ...]
    value: Expr


@dataclass(frozen=True)
class PublishModel(Node):
    model: Name
    topic: Expr
    fields: tuple[FieldAssignment, ...]
    block: bool


@dataclass(frozen=True)
class Branch(Node):
    condition: Expr
    body: tuple[Statement, ...]


@dataclass(frozen=True)
class If(Node):
    """IF with its ELSE IF branches; ``inline`` for ``IF c THEN statement``."""

    branches: tuple[Branch, ...]
    otherwise: tuple[Statement, ...] | None
    inline: bool = False


@dataclass(frozen=True)
class Case(Node):
    value: Expr
    body: tuple[Statement, ...]


@dataclass(frozen=True)
class Switch(Node):
    subject: Expr
    cases: tuple[Case, ...]
    default: tuple[Statement, ...] | None


@dataclass(frozen=True)
class Loop(Node):
    body: tuple[Statement, ...]
    until: Expr


@dataclass(frozen=True)
class Argument(Node):
    name: str
    value: Expr


@dataclass(frozen=True)
class CallAction(Node):
    action: Name
    arguments: tuple[Argument, ...]
    returns: tuple[str, ...]


@dataclass(frozen=True)
class CallPython(Node):
    target: String
    arguments: tuple[Expr, ...] | None
    result: str | None


@dataclass(frozen=True)
class CallService(Node):
    """CALL MCP, CALL LLM and CALL AGENT."""

    kind: str
    target: String
    method: String | None
    arguments: tuple[Argument, ...]
    parenthesised: bool
    result: str | None


@dataclass(frozen=True)
class TriggerRoute(Node):
    event: String
    target: Expr
    value: Expr | None
    mapping: Name | None


@dataclass(frozen=True)
class KeepStore(Node):
    store: str
    name: String
    value: Expr


@dataclass(frozen=True)
class DeleteStore(Node):
    store: str
    name: String


Statement = Union[
    Set,
    PublishTopic,
    KeepTopic,
    PublishModel,
    If,
    Switch,
    Loop,
    CallAction,
    CallPython,
    CallService,
    TriggerRoute,
    KeepStore,
    DeleteStore,
]

# ------------------------------------------------------------------- entities


@dataclass(frozen=True)
class Trigger(Node):
    """``kind`` is EVERY, DAY, TIMESTAMP, TOPIC, CHANGE, START, CONNECT,
    DISCONNECT or SUBSCRIBE; the other fields hold what that kind takes."""

    kind: str
    amount: str | None = None
    unit: str | None = None
    day: str | None = None
    text: String | None = None


@dataclass(frozen=True)
class Input(Node):
    name: str
    type_name: str


@dataclass(frozen=True)
class Output(Node):
    name: str


@dataclass(frozen=True)
class Action(Node):
    """``layout`` records where the header was written: ``lines`` (trigger line
    ending in DO), ``do-line`` (DO alone on the next line) or ``define-line``."""

    name: Name
    trigger: Trigger | None
    inputs: tuple[Input, ...]
    body: tuple[Statement, ...]
    outputs: tuple[Output, ...]
    description: String | None
    layout: str = "lines"


@dataclass(frozen=True)
class ModelOption(Node):
    """COLLAPSED, FROM, TOPIC, RETAIN, QOS, FORMAT or AND (legacy joiner)."""

    kind: str
    value: str | None = None
    name: Name | None = None


@dataclass(frozen=True)
class FieldSource(Node):
    """``WITH TOPIC "t"`` (kind ``topic``), with ``AS TRIGGER`` (``trigger``),
    or ``WITH value`` (``value``)."""

    kind: str
    topic: String | None = None
    value: Expr | None = None


@dataclass(frozen=True)
class ModelField(Node):
    type_name: str | None
    name: String
    source: FieldSource | None
    children: tuple[ModelItem, ...] = ()


@dataclass(frozen=True)
class ModelCollection(Node):
    name: String
    model: Name


@dataclass(frozen=True)
class ModelStore(Node):
    route: String
    table: String
    when: Expr | None


@dataclass(frozen=True)
class ModelFetch(Node):
    route: String
    table: String
    when: Expr | None
    limit: str | None


ModelItem = Union[ModelField, ModelCollection, ModelStore, ModelFetch]


@dataclass(frozen=True)
class Model(Node):
    name: Name
    options: tuple[ModelOption, ...]
    items: tuple[ModelItem, ...]


@dataclass(frozen=True)
class SettingValue(Node):
    """``kind``: string, quoted (single quotes), number, boolean, word, env,
    secret, self (``BROKER SELF``) or every (``WITH EVERY n UNIT``)."""

    kind: str
    text: str
    unit: str | None = None


@dataclass(frozen=True)
class Setting(Node):
    key: str
    value: SettingValue


@dataclass(frozen=True)
class RouteBlock(Node):
    """``ADD <kind> [name]`` with its settings and nested blocks (TAGs)."""

    kind: str
    name: Name | None
    items: tuple[Union[Setting, RouteBlock], ...]


@dataclass(frozen=True)
class RouteStore(Node):
    """Legacy ``STORE Route WITH TABLE_NAME "t"`` inside a route."""

    route: str
    key: str
    value: String


@dataclass(frozen=True)
class Route(Node):
    name: Name
    route_type: str | None
    items: tuple[Union[RouteBlock, RouteStore, Setting], ...]


@dataclass(frozen=True)
class RuleCheck(Node):
    """One test of a rule condition: ``subject`` USER, CLIENTID, TOPIC or
    GET TOPIC; ``test`` IS, HAS, IN GROUP, IS POSITION, MATCHES or EXISTS."""

    subject: str
    test: str
    value: str | None = None
    topic: Expr | None = None


@dataclass(frozen=True)
class RuleLogic(Node):
    operator: str
    left: RuleCondition
    right: RuleCondition


@dataclass(frozen=True)
class RuleNot(Node):
    operand: RuleCondition


@dataclass(frozen=True)
class RuleParen(Node):
    inner: RuleCondition


RuleCondition = Union[RuleCheck, RuleLogic, RuleNot, RuleParen]


@dataclass(frozen=True)
class Rule(Node):
    """A rule: a verdict, or ``IF condition`` with a verdict and an ELSE verdict."""

    name: Name
    priority: str | None
    scope: str | None
    topic: String | None
    condition: RuleCondition | None
    verdict: str
    otherwise: str | None
    layout: str = "block"


@dataclass(frozen=True)
class Unsupported(Node):
    """PANEL, THEME, VISU and THING entities: recognised, reported, skipped."""

    kind: str
    name: str


Entity = Union[Action, Model, Route, Rule, Unsupported]


@dataclass(frozen=True)
class Module:
    """One source file (or notebook cell) and the entities it defines, in order."""

    file: str
    entities: tuple[Entity, ...]
