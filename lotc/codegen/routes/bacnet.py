"""Lowering of BACNET routes to ``BacnetRoute``.

Input: a checked BACnet route.  Output: its ``RouteView`` and the problems
the device would only reveal at run time, reported now: an ADDRESS that is
not ``<object type>:<instance>`` (LOT410), two tags on one object (LOT411),
a DATA_TYPE that the object's present value cannot have (LOT412), a
WRITABLE input object (LOT413).

Object types are written as the plugin's abbreviations (``AI``, ``AO``,
``AV``, ``BI``, ``BO``, ``BV``, ``MSI``, ``MSO``, ``MSV``) or BACnet's names
in any common spelling (``analog-input``, ``analogInput``,
``ANALOG_INPUT``); the instance is 0-4194302.  A tag's ``PRIORITY`` (1-16,
default 8) is the BACnet priority its commands are written at.
"""

from __future__ import annotations

import re

from lotc.codegen.routes import RouteView, new_view, register
from lotc.codegen.routes.tags import (
    Tag,
    TagProblem,
    call,
    config_text,
    lower_tags,
    number,
    publishing,
    setting_span,
    settings_imports,
    tags_of,
    text,
)
from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.route_schemas import resolve_settings
from lotc.frontend.site import Site

OBJECT_TYPES = {
    "AI": "analog-input",
    "AO": "analog-output",
    "AV": "analog-value",
    "BI": "binary-input",
    "BO": "binary-output",
    "BV": "binary-value",
    "MSI": "multi-state-input",
    "MSO": "multi-state-output",
    "MSV": "multi-state-value",
}
LAST_INSTANCE = 4194302  # 4194303 means "no instance" in BACnet
_BY_NAME = {name.replace("-", ""): name for name in OBJECT_TYPES.values()}
_ADDRESS = re.compile(r"\s*([A-Za-z_-]+)\s*[:,]\s*(\d+)\s*")
_NUMBERS = {"FLOAT", "REAL", "DOUBLE", "LREAL", "FLOAT32", "FLOAT64"}
_WHOLE = {"INT", "UINT", "DINT", "UDINT", "SINT", "USINT", "LINT", "ULINT"}
_WHOLE |= {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32"}
_WHOLE |= {"UINT64", "WORD", "DWORD", "LWORD", "BYTE"}
# Object family -> (DATA_TYPEs its present value can have, how to say so,
# the type to suggest).
_FAMILIES = {
    "analog": (_NUMBERS | _WHOLE, "a number", "FLOAT"),
    "binary": ({"BOOL", "BOOLEAN"}, "BOOL", "BOOL"),
    "multi-state": (_WHOLE, "a state number", "UINT"),
}


@register("BACNET")
def lower_bacnet(route: ast.Route, site: Site) -> tuple[RouteView, list[Diagnostic]]:
    view = new_view(route, "BACNET")
    view.extras = ["bacnet"]
    view.imports = ["from lot_runtime.routes.bacnet import BacnetRoute, BacnetTag"]
    problems: list[Diagnostic] = []
    config = resolve_settings(route, "BACNET_CONFIG")

    candidates, found = lower_tags(tags_of(route), _lower_tag)
    problems.extend(found)
    lowered: list[tuple[Tag, dict[str, object]]] = []
    seen: dict[tuple[str, int], str] = {}
    for tag, arguments in candidates:
        key = (str(arguments["object_type"]), int(str(arguments["instance"])))
        other = seen.setdefault(key, tag.name)
        if other != tag.name:
            problems.append(
                messages.OVERLAPPING_ADDRESSES.at(
                    setting_span(tag, "ADDRESS"),
                    name=tag.name,
                    other=other,
                    table=key[0],
                    address=key[1],
                    help="read the object once, and derive the rest in an action",
                )
            )
            continue
        lowered.append((tag, arguments))

    arguments_text = [f"name={route.name.text!r}"]
    for key, name in (
        ("IP", "host"),
        ("PORT", "port"),
        ("DEVICE_ID", "device_id"),
        ("LOCAL_ADDRESS", "local_address"),
    ):
        if key in config:
            whole = key in ("PORT", "DEVICE_ID")
            arguments_text.append(f"{name}={config_text(config[key], whole=whole)}")
    listed = "".join(f"{call('BacnetTag', a)}, " for _, a in lowered)
    arguments_text.append(f"tags=({listed})")
    view.constructor = f"BacnetRoute({', '.join(arguments_text)})"
    view.imports = sorted(view.imports + settings_imports(view.constructor))
    view.route_class = "BacnetRoute"
    view.reads = sorted({t.command_topic for t, _ in lowered if t.command_topic})
    view.writes = sorted({t.topic for t, _ in lowered})
    return view, problems


def _lower_tag(tag: Tag) -> dict[str, object]:
    written = (text(tag.settings, "ADDRESS") or "").strip()
    match = _ADDRESS.fullmatch(written)
    kind = _object_type(match.group(1)) if match else None
    if match is None or kind is None:
        raise TagProblem(
            messages.BAD_DEVICE_ADDRESS,
            f"`{written}` is not a BACnet object",
            "write the object type and instance, as `AI:0`, `AV:3` or "
            "`binary-value:1` (types AI, AO, AV, BI, BO, BV, MSI, MSO, MSV)",
        )
    instance = int(match.group(2))
    if instance > LAST_INSTANCE:
        raise TagProblem(
            messages.BAD_DEVICE_ADDRESS,
            f"instance {instance} is beyond BACnet's last, {LAST_INSTANCE}",
        )
    data_type = (text(tag.settings, "DATA_TYPE") or "").upper()
    family = kind.rsplit("-", 1)[0]
    allowed, wanted, suggestion = _FAMILIES[family]
    if data_type not in allowed:
        raise TagProblem(
            messages.TYPE_WIDTH_MISMATCH,
            f"the present value of a {kind} is {wanted}, not {data_type}",
            f"use DATA_TYPE {suggestion}",
            key="DATA_TYPE",
        )
    if tag.command_topic and kind.endswith("-input"):
        raise TagProblem(
            messages.READ_ONLY_TAG,
            "",
            "write the matching output or value object instead",
            key="WRITABLE",
            table=f"the present value of {kind} {instance}",
        )
    arguments: dict[str, object] = {
        "name": tag.name,
        "object_type": kind,
        "instance": instance,
        "topic": tag.topic,
    }
    arguments.update(publishing(tag))
    priority = number(tag.settings, "PRIORITY")
    if priority is not None and tag.command_topic:
        arguments["priority"] = int(priority)
    return arguments


def _object_type(written: str) -> str | None:
    """BACnet's name of an object type written any of the accepted ways."""
    upper = written.upper()
    if upper in OBJECT_TYPES:
        return OBJECT_TYPES[upper]
    return _BY_NAME.get(written.lower().replace("-", "").replace("_", ""))
