"""What the device-route lowerings share: a route's tags read off its
MAPPING blocks (the ``ADD TAG`` form and the compact one-register mapping),
their topics, poll periods and publishing options, as plain Python values.

Topic of a tag's value: the tag's ``SOURCE_TOPIC``, else the mapping's
``SOURCE_TOPIC`` prefix + ``/`` + the tag name, else ``<route>/<mapping>/<tag>``;
a compact mapping publishes to its ``DESTINATION_TOPIC``.  A WRITABLE tag
reads commands on its ``DESTINATION_TOPIC``, else on ``<value topic>/set``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lotc.codegen.routes import setting_text
from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.route_schemas import Default, ResolvedBlock, resolve_block
from lotc.frontend.route_schemas import route_schema as schema_of

# The sized spellings of LoT data types -> the IEC 61131-3 names PLCs use.
IEC_SPELLINGS = {
    "BOOLEAN": "BOOL",
    "INT8": "SINT",
    "UINT8": "USINT",
    "INT16": "INT",
    "UINT16": "UINT",
    "INT32": "DINT",
    "UINT32": "UDINT",
    "INT64": "LINT",
    "UINT64": "ULINT",
    "FLOAT": "REAL",
    "FLOAT32": "REAL",
    "DOUBLE": "LREAL",
    "FLOAT64": "LREAL",
}


def iec_types(*names: str) -> dict[str, str]:
    """A protocol's data type table: its IEC ``names`` and the sized
    spellings of those among them."""
    table = {name: name for name in names}
    table |= {k: v for k, v in IEC_SPELLINGS.items() if v in table}
    return table


def data_type_of(tag: Tag, table: dict[str, str], what: str) -> str:
    """The tag's DATA_TYPE as ``table`` names it; LOT412 naming ``what`` (an
    S7 data type...) and listing the table's types when it is not there."""
    written = (text(tag.settings, "DATA_TYPE") or "").upper()
    found = table.get(written)
    if found is None:
        names = list(dict.fromkeys(table.values()))
        raise TagProblem(
            messages.TYPE_WIDTH_MISMATCH,
            f"`{written}` is not {what}",
            f"use {', '.join(names[:-1])} or {names[-1]}",
            key="DATA_TYPE",
        )
    return found


_SECONDS = {
    "MILLISECOND": 0.001,
    "SECOND": 1,
    "MINUTE": 60,
    "HOUR": 3600,
    "DAY": 86400,
}


@dataclass
class Tag:
    """One tag of a device route, before the protocol reads its address."""

    name: str
    mapping: str
    settings: dict[str, ast.SettingValue | Default]
    span: ast.Span
    every: float
    topic: str
    command_topic: str | None
    # Whether the mapping writes its EVERY (a route type may have a default
    # period of its own, ETHERNETIP's POLLING_MS).
    every_written: bool = True


def text(settings: dict, key: str) -> str | None:
    """A literal setting's text (a default's value as text), or None."""
    value = settings.get(key)
    if isinstance(value, Default):
        return None if value.value is None else str(value.value)
    return value.text if value is not None else None


def number(settings: dict, key: str) -> float | None:
    found = text(settings, key)
    return None if found is None else float(found)


def flag(settings: dict, key: str) -> bool:
    return (text(settings, key) or "false").lower() == "true"


def seconds(value: ast.SettingValue | Default | None) -> float:
    """``WITH EVERY n UNIT`` in seconds (default 1 s)."""
    if value is None:
        return 1.0
    if isinstance(value, Default):
        amount, unit = str(value.value).split()
    else:
        amount, unit = value.text, value.unit or "SECONDS"
    return float(amount) * _SECONDS.get(unit.upper().rstrip("S"), 1)


def env_in_tag(tag: Tag) -> list[Diagnostic]:
    """GET ENV / GET SECRET in a tag setting: tags are laid out at build time."""
    return [
        messages.UNSUPPORTED_STATEMENT.at(
            value.span, construct=f"`GET {value.kind.upper()}` in the tag setting {key}"
        )
        for key, value in tag.settings.items()
        if isinstance(value, ast.SettingValue) and value.kind in ("env", "secret")
    ]


def tags_of(route: ast.Route) -> list[Tag]:
    """Every tag of the route, mapping by mapping, in source order."""
    schema = schema_of(route.route_type)
    mapping_schema = schema.block("MAPPING") if schema else None
    tag_schema = mapping_schema.child("TAG") if mapping_schema else None
    found: list[Tag] = []
    for block in route.items:
        if not isinstance(block, ast.RouteBlock) or block.kind != "MAPPING":
            continue
        mapping = resolve_block(mapping_schema, block)
        every = seconds(mapping.settings.get("EVERY"))
        children = [i for i in block.items if isinstance(i, ast.RouteBlock)]
        if not children and isinstance(
            mapping.settings.get("ADDRESS"), ast.SettingValue
        ):
            found.append(_compact(route, block, mapping, every))
        for child in children:
            tag = resolve_block(tag_schema, child)
            found.append(_tag(route, mapping, tag, child, every))
    return found


def _compact(
    route: ast.Route, block: ast.RouteBlock, mapping: ResolvedBlock, every: float
) -> Tag:
    name = mapping.name or "mapping"
    topic = text(mapping.settings, "DESTINATION_TOPIC") or f"{route.name.text}/{name}"
    writable = flag(mapping.settings, "WRITABLE")
    return Tag(
        name=name,
        mapping=name,
        settings=mapping.settings,
        span=block.name.span if block.name else block.span,
        every=every,
        topic=topic,
        command_topic=f"{topic}/set" if writable else None,
        every_written=isinstance(mapping.settings.get("EVERY"), ast.SettingValue),
    )


def _tag(
    route: ast.Route,
    mapping: ResolvedBlock,
    tag: ResolvedBlock,
    block: ast.RouteBlock,
    every: float,
) -> Tag:
    name = tag.name or "tag"
    prefix = text(mapping.settings, "SOURCE_TOPIC")
    topic = (
        text(tag.settings, "SOURCE_TOPIC")
        or (f"{prefix.rstrip('/')}/{name}" if prefix else None)
        or f"{route.name.text}/{mapping.name}/{name}"
    )
    command = None
    if flag(tag.settings, "WRITABLE"):
        command = text(tag.settings, "DESTINATION_TOPIC") or f"{topic}/set"
    return Tag(
        name=name,
        mapping=mapping.name or "",
        settings=tag.settings,
        span=block.name.span if block.name else block.span,
        every=every,
        topic=topic,
        command_topic=command,
        every_written=isinstance(mapping.settings.get("EVERY"), ast.SettingValue),
    )


def publishing(tag: Tag) -> dict[str, object]:
    """Keyword arguments of the runtime tag shared by every protocol."""
    settings = tag.settings
    arguments: dict[str, object] = {"every": tag.every}
    scaling, offset = number(settings, "SCALING"), number(settings, "OFFSET")
    if scaling not in (None, 1):
        arguments["scaling"] = scaling
    if offset not in (None, 0):
        arguments["offset"] = offset
    deadband = number(settings, "DEADBAND")
    if deadband is not None:
        arguments["deadband"] = deadband
    mode = (text(settings, "PUBLISH_MODE") or "").upper()
    if mode in ("ON_CHANGE", "CHANGE"):
        arguments["on_change"] = True
    decimals = text(settings, "DECIMAL_PLACES")
    if decimals is not None:
        arguments["decimals"] = int(decimals)
    if tag.command_topic:
        arguments["writable"] = True
        arguments["command_topic"] = tag.command_topic
    return arguments


def call(function: str, arguments: dict[str, object]) -> str:
    """Python text of ``function(key=value, ...)`` with literal values."""
    listed = ", ".join(f"{key}={value!r}" for key, value in arguments.items())
    return f"{function}({listed})"


def config_text(value: ast.SettingValue | Default, *, whole: bool = False) -> str:
    """Python text of a config setting; ``whole`` numbers as ints."""
    literal = isinstance(value, Default) or value.kind not in ("env", "secret")
    if whole and literal:
        written = str(value.value if isinstance(value, Default) else value.text)
        try:
            return repr(int(float(written)))
        except ValueError:
            pass  # the checker reported it; the runtime will say so again
    return setting_text(value)


def settings_imports(constructor: str) -> list[str]:
    """The import of ``Env`` / ``Secret`` when the constructor uses them."""
    used = [n for n in ("Env", "Secret") if f"={n}(" in constructor]
    return [f"from lot_runtime.routes import {', '.join(used)}"] if used else []


class TagProblem(Exception):
    """One thing wrong with a tag, found while lowering it: the diagnostic's
    code, the problem, a hint, the setting whose value to point at, and any
    other fields the code's message names."""

    def __init__(
        self,
        code: messages.Code,
        problem: str,
        help: str | None = None,
        key: str = "ADDRESS",
        **fields: object,
    ):
        super().__init__(problem)
        self.code = code
        self.problem = problem
        self.help = help
        self.key = key
        self.fields = fields


def setting_span(tag: Tag, key: str) -> ast.Span:
    """The value of setting ``key`` of ``tag`` when written, else the tag."""
    value = tag.settings.get(key)
    return value.span if isinstance(value, ast.SettingValue) else tag.span


def lower_tags(
    tags: Iterable[Tag], lower_tag: Callable[[Tag], dict[str, object]]
) -> tuple[list[tuple[Tag, dict[str, object]]], list[Diagnostic]]:
    """Each tag with the runtime arguments ``lower_tag`` gives it.  A
    TagProblem becomes its diagnostic and the tag is left out, as is a tag
    with a number the checker already reported (ValueError); GET ENV and GET
    SECRET in a tag setting are LOT403."""
    lowered: list[tuple[Tag, dict[str, object]]] = []
    problems: list[Diagnostic] = []
    for tag in tags:
        problems.extend(env_in_tag(tag))
        try:
            lowered.append((tag, lower_tag(tag)))
        except TagProblem as problem:
            problems.append(
                problem.code.at(
                    setting_span(tag, problem.key),
                    name=tag.name,
                    problem=problem.problem,
                    help=problem.help,
                    **problem.fields,
                )
            )
        except ValueError:
            continue
    return lowered, problems


def same_names(
    lowered: list[tuple[Tag, dict[str, object]]], what: str
) -> list[Diagnostic]:
    """LOT411 for each tag whose ``address`` names the same ``what`` (a
    controller tag, a PLC variable) as an earlier tag's, ignoring case as
    Logix and TwinCAT names do."""
    found: list[Diagnostic] = []
    seen: dict[str, str] = {}
    for tag, arguments in lowered:
        address = str(arguments["address"])
        other = seen.setdefault(address.lower(), tag.name)
        if other != tag.name:
            found.append(
                messages.OVERLAPPING_ADDRESSES.at(
                    setting_span(tag, "ADDRESS"),
                    name=tag.name,
                    other=other,
                    table=what,
                    address=f"`{address}`",
                    help="read the value once and publish it from one tag",
                )
            )
    return found
