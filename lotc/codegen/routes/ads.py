"""Lowering of ADS (Beckhoff TwinCAT) routes to ``AdsRoute``.

Input: a checked ADS route.  Output: its ``RouteView`` and the problems the
PLC would only reveal at run time, reported now: an AMS net id that is not
six numbers 0-255 (LOT206), a tag ADDRESS that is not a PLC symbol
(LOT410), two tags on one variable (LOT411), a DATA_TYPE that is not an IEC
61131-3 elementary type (LOT412).

``ADS_CONFIG`` gives ``TARGET_NET_ID`` (or the plugin's ``AMS_NET_ID``),
``TARGET_IP`` (by default the net id's first four numbers, as TwinCAT makes
net ids from addresses), ``TARGET_PORT`` (or ``PORT``; 851, TwinCAT 3's
first PLC runtime), ``LOCAL_NET_ID`` and ``TIMEOUT``.  The keys that ask
the route to add an ADS route on the PLC (``LOCAL_ROUTE_TO_TARGET``,
``TARGET_ROUTE_TO_LOCAL``, ``LOCAL_HOST_NAME``, ``USERNAME``, ``PASSWORD``)
are LOT403: add the route with TwinCAT's own tools.

A symbol is a variable's name as the PLC program writes it: ``MAIN.Velocity``,
``GVL.Line[2].Count``, or TwinCAT 2's ``.gCounter``.  A STRING holds
``LENGTH`` characters, 80 (TwinCAT's default) when not set.
"""

from __future__ import annotations

import re

from lotc.codegen.routes import RouteView, new_view, register
from lotc.codegen.routes.tags import (
    Tag,
    TagProblem,
    call,
    config_text,
    data_type_of,
    iec_types,
    lower_tags,
    number,
    publishing,
    same_names,
    settings_imports,
    tags_of,
    text,
)
from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.route_schemas import resolve_settings
from lotc.frontend.site import Site

# LoT data type spellings -> IEC 61131-3 elementary types.
DATA_TYPES = iec_types(
    *("BOOL", "BYTE", "WORD", "DWORD", "LWORD", "SINT", "USINT", "INT", "UINT"),
    *("DINT", "UDINT", "LINT", "ULINT", "REAL", "LREAL", "STRING"),
)
STRING_LENGTH = 80
_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\[\d+(?:,\d+)*\])?"
_SYMBOL = re.compile(rf"\.?{_NAME}(?:\.{_NAME})*")
_NET_ID = re.compile(r"\d{1,3}(?:\.\d{1,3}){5}")
_ROUTE_KEYS = (
    "LOCAL_ROUTE_TO_TARGET",
    "TARGET_ROUTE_TO_LOCAL",
    "LOCAL_HOST_NAME",
    "USERNAME",
    "PASSWORD",
)


@register("ADS")
def lower_ads(route: ast.Route, site: Site) -> tuple[RouteView, list[Diagnostic]]:
    view = new_view(route, "ADS")
    view.extras = ["ads"]
    view.imports = ["from lot_runtime.routes.ads import AdsRoute, AdsTag"]
    config = resolve_settings(route, "ADS_CONFIG")
    problems = _config_problems(config)
    lowered, found = lower_tags(tags_of(route), _lower_tag)
    problems.extend(found)
    problems.extend(same_names(lowered, "PLC variable"))

    arguments = [f"name={route.name.text!r}"]
    for key, name, whole in (
        ("TARGET_NET_ID", "net_id", False),
        ("TARGET_IP", "host", False),
        ("TARGET_PORT", "ams_port", True),
        ("LOCAL_NET_ID", "local_net_id", False),
    ):
        if key in config and (key != "TARGET_PORT" or text(config, key) is not None):
            arguments.append(f"{name}={config_text(config[key], whole=whole)}")
    timeout = number(config, "TIMEOUT")
    if timeout is not None:
        arguments.append(f"timeout={timeout / 1000!r}")
    tags = "".join(f"{call('AdsTag', a)}, " for _, a in lowered)
    arguments.append(f"tags=({tags})")
    view.constructor = f"AdsRoute({', '.join(arguments)})"
    view.imports = sorted(view.imports + settings_imports(view.constructor))
    view.route_class = "AdsRoute"
    view.reads = sorted({t.command_topic for t, _ in lowered if t.command_topic})
    view.writes = sorted({t.topic for t, _ in lowered})
    return view, problems


def _config_problems(config: dict) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    for key in ("TARGET_NET_ID", "LOCAL_NET_ID"):
        value = config.get(key)
        if not isinstance(value, ast.SettingValue) or value.kind in ("env", "secret"):
            continue
        numbers = value.text.split(".")
        if not _NET_ID.fullmatch(value.text) or any(int(n) > 255 for n in numbers):
            problems.append(
                messages.BAD_SETTING_VALUE.at(
                    value.span,
                    key=key,
                    problem=f"`{value.text}` is not an AMS net id",
                    help="write six numbers 0-255, as `192.168.1.100.1.1`",
                )
            )
    for key in _ROUTE_KEYS:
        value = config.get(key)
        if isinstance(value, ast.SettingValue):
            problems.append(
                messages.UNSUPPORTED_STATEMENT.at(
                    value.span,
                    construct=f"`{key}` (adding an ADS route on the PLC; add it with "
                    "TwinCAT's own tools)",
                )
            )
    return problems


def _lower_tag(tag: Tag) -> dict[str, object]:
    data_type = data_type_of(tag, DATA_TYPES, "an IEC 61131-3 elementary type")
    address = (text(tag.settings, "ADDRESS") or "").strip()
    if not _SYMBOL.fullmatch(address):
        raise TagProblem(
            messages.BAD_DEVICE_ADDRESS,
            f"`{address}` is not a PLC symbol",
            "write the variable as the PLC program names it: `MAIN.Velocity`, "
            "`GVL.Line[2].Count`",
        )
    arguments: dict[str, object] = {"name": tag.name, "address": address}
    arguments["topic"] = tag.topic
    arguments["data_type"] = data_type
    if data_type == "STRING":
        length = int(number(tag.settings, "LENGTH") or STRING_LENGTH)
        if length != STRING_LENGTH:
            arguments["length"] = length
    arguments.update(publishing(tag))
    return arguments
