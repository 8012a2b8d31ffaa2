"""Lowering of ALLEN_BRADLEY and ETHERNETIP routes to ``LogixRoute``.

Input: a checked ALLEN_BRADLEY or ETHERNETIP route.  Output: its ``RouteView`` and the
problems the controller would only reveal at run time, reported now: a tag
ADDRESS that is not a Logix tag name (LOT410), two tags on one tag (LOT411),
a DATA_TYPE Logix does not have, or a bit address not read as BOOL
(LOT412), a ``PATH`` that is not a CIP route (LOT206), and a
``DEVICE_FAMILY`` the route cannot reach (LOT403).

Addresses are tag names as the controller program writes them: controller
tags (``CaseCount``), program tags (``Program:Packaging.CaseCount``),
members of structures (``Line.Speed``), array elements (``Temps[3]``,
``Grid[1,2]``) and bits of integers (``Status.3``, a BOOL).  ``DEVICE_FAMILY``
0 (ControlLogix and CompactLogix, the default) and 4 (Micro800) are built;
the others (PLC-5, SLC 500, MicroLogix, PLC-5 mode, Omron) are addressed by
data files or speak other dialects that the driver does not.  ``PATH`` is
the CIP route to the CPU as RSLinx writes it (``1,0``: backplane, slot 0);
without it the CPU is in ``SLOT`` of the backplane the Ethernet module
shares.  A STRING holds ``LENGTH`` characters, 82 (Logix's STRING) when not
set.

An ETHERNETIP route is the same Logix tag access (the plugin's reading of
the type, and the corpus's): ``ETHERNETIP_CONFIG`` gives ``IP``, ``PORT``,
``SLOT``, ``READ_WRITE_TIMEOUT`` as the request timeout, and ``POLLING_MS``
as the period of a mapping that writes no ``EVERY``.  The reference's other
reading, addresses that are CIP object attributes (``1.1.7``: class,
instance, attribute), is served too, on either route type: such a tag is
read with Get_Attribute_Single (a STRING as a SHORT_STRING); writing one is
LOT403.
"""

from __future__ import annotations

import ipaddress
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

# LoT data type spellings -> the runtime's Logix types.
DATA_TYPES = iec_types(
    *("BOOL", "SINT", "INT", "DINT", "LINT", "USINT", "UINT", "UDINT", "ULINT"),
    *("REAL", "LREAL", "STRING"),
)
STRING_LENGTH = 82
NAME_LENGTH = 40  # characters in one Logix name
FAMILIES = {
    1: "PLC-5",
    2: "SLC 500",
    3: "ControlLogix in PLC-5 mode",
    5: "MicroLogix",
    6: "Omron",
}
MICRO800 = 4
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ELEMENT = rf"{_NAME}(?:\[\d+(?:,\d+){{0,2}}\])?"
_TAG = re.compile(
    rf"(?:Program:(?P<program>{_NAME})\.)?(?P<path>{_ELEMENT}(?:\.{_ELEMENT})*)"
    r"(?:\.(?P<bit>\d+))?"
)
_LAST_BIT = 63
_CIP_PATH = re.compile(r"\d+\.\d+\.\d+")


@register("ALLEN_BRADLEY", "ETHERNETIP")
def lower_logix(route: ast.Route, site: Site) -> tuple[RouteView, list[Diagnostic]]:
    ethernet_ip = route.route_type == "ETHERNETIP"
    view = new_view(route, "ETHERNETIP" if ethernet_ip else "ALLEN_BRADLEY")
    view.extras = ["logix"]
    view.imports = ["from lot_runtime.routes.logix import LogixRoute, LogixTag"]
    kind = "ETHERNETIP_CONFIG" if ethernet_ip else "ALLEN_BRADLEY_CONFIG"
    config = resolve_settings(route, kind)
    problems = _config_problems(route, config)
    # ETHERNETIP's POLLING_MS is the period of a mapping without EVERY.
    polling = number(config, "POLLING_MS") if ethernet_ip else None

    tags = tags_of(route)
    for tag in tags:
        if polling is not None and not tag.every_written:
            tag.every = polling / 1000
    lowered, found = lower_tags(tags, _lower_tag)
    problems.extend(found)
    problems.extend(same_names(lowered, "controller tag"))

    arguments = [f"name={route.name.text!r}"]
    for key, name in (("IP", "host"), ("PORT", "port"), ("SLOT", "slot")):
        if key in config:
            arguments.append(f"{name}={config_text(config[key], whole=key != 'IP')}")
    if "PATH" in config:
        arguments.append(f"path={config_text(config['PATH'])}")
    if text(config, "DEVICE_FAMILY") == str(MICRO800):
        arguments.append("micro800=True")
    timeout = number(config, "READ_WRITE_TIMEOUT" if ethernet_ip else "TIMEOUT")
    if timeout is not None:
        arguments.append(f"timeout={timeout / 1000!r}")
    tags = "".join(f"{call('LogixTag', a)}, " for _, a in lowered)
    arguments.append(f"tags=({tags})")
    view.constructor = f"LogixRoute({', '.join(arguments)})"
    view.imports = sorted(view.imports + settings_imports(view.constructor))
    view.route_class = "LogixRoute"
    view.reads = sorted({t.command_topic for t, _ in lowered if t.command_topic})
    view.writes = sorted({t.topic for t, _ in lowered})
    return view, problems


def _config_problems(route: ast.Route, config: dict) -> list[Diagnostic]:
    """LOT403 for a device family the route cannot reach, LOT206 for a PATH
    that is not a CIP route."""
    problems: list[Diagnostic] = []
    family = text(config, "DEVICE_FAMILY")
    if family is not None and family.isdigit() and int(family) in FAMILIES:
        problems.append(
            messages.UNSUPPORTED_STATEMENT.at(
                _setting_span(route, config, "DEVICE_FAMILY"),
                construct=f"`DEVICE_FAMILY {family}` ({FAMILIES[int(family)]}: "
                "only Logix controllers (0) and Micro800 (4) are reached by "
                "tag name)",
            )
        )
    path = config.get("PATH")
    if isinstance(path, ast.SettingValue) and path.kind not in ("env", "secret"):
        reason = _path_problem(path.text)
        if reason:
            problems.append(
                messages.BAD_SETTING_VALUE.at(
                    path.span,
                    key="PATH",
                    problem=f"is not a CIP route: {reason}",
                    help="write ports and links in pairs, as RSLinx does: `1,0` "
                    "is the backplane to slot 0, `1,0,2,10.0.0.5,1,2` goes on "
                    "through an Ethernet module to slot 2 of another chassis",
                )
            )
    return problems


def _path_problem(written: str) -> str | None:
    """What is wrong with a CIP route ``port,link,...``, or None."""
    parts = [p.strip() for p in written.split(",")]
    if len(parts) % 2:
        return f"{len(parts)} parts, not pairs of port and link"
    for port, link in zip(parts[::2], parts[1::2], strict=True):
        if not port.isdigit() or not 1 <= int(port) <= 14:
            return f"`{port}` is not a port (1-14)"
        if link.isdigit():
            if int(link) > 255:
                return f"`{link}` is not a slot or node (0-255)"
            continue
        try:
            ipaddress.IPv4Address(link)
        except ValueError:
            return f"`{link}` is neither a slot number nor an IPv4 address"
    return None


def _lower_tag(tag: Tag) -> dict[str, object]:
    data_type = data_type_of(tag, DATA_TYPES, "a Logix data type")
    address = (text(tag.settings, "ADDRESS") or "").strip()
    if _CIP_PATH.fullmatch(address):
        return _attribute_tag(tag, address, data_type)
    match = _TAG.fullmatch(address)
    if match is None:
        raise TagProblem(
            messages.BAD_DEVICE_ADDRESS,
            f"`{address}` is not a Logix tag name",
            "write a controller tag (`CaseCount`), a program tag "
            "(`Program:Packaging.CaseCount`), a member (`Line.Speed`), an "
            "element (`Temps[3]`) or a bit of an integer (`Status.3`)",
        )
    names = re.findall(_NAME, match["path"]) + [match["program"] or ""]
    long = next((n for n in names if len(n) > NAME_LENGTH), None)
    if long:
        raise TagProblem(
            messages.BAD_DEVICE_ADDRESS,
            f"`{long}` is longer than Logix's {NAME_LENGTH} characters",
            "use the name the controller program gives the tag",
        )
    bit = match["bit"]
    if bit is not None and int(bit) > _LAST_BIT:
        raise TagProblem(
            messages.BAD_DEVICE_ADDRESS,
            f"`{address}` names bit {bit}; the widest integer, LINT, has bits 0-63",
            "name a bit of the integer from 0",
        )
    if bit is not None and data_type != "BOOL":
        raise TagProblem(
            messages.TYPE_WIDTH_MISMATCH,
            f"`{address}` is one bit of an integer, read as BOOL, not {data_type}",
            f"write DATA_TYPE BOOL, or drop `.{bit}` to read the whole integer",
            key="DATA_TYPE",
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


def _attribute_tag(tag: Tag, address: str, data_type: str) -> dict[str, object]:
    """A tag on a CIP object attribute, ``class.instance.attribute``."""
    cip_class, instance, attribute = (int(n) for n in address.split("."))
    limits = (("class", cip_class, 1, 0xFFFF), ("instance", instance, 0, 0xFFFF))
    for what, value, low, high in (*limits, ("attribute", attribute, 1, 255)):
        if not low <= value <= high:
            raise TagProblem(
                messages.BAD_DEVICE_ADDRESS,
                f"`{address}` names {what} {value}; a CIP {what} is {low}-{high}",
                "write the object's class, instance and attribute, as `1.1.7` "
                "for the product name of the Identity object",
            )
    if tag.command_topic:
        raise TagProblem(
            messages.UNSUPPORTED_STATEMENT,
            "",
            key="WRITABLE",
            construct=f"tag `{tag.name}`: writing the CIP object attribute `{address}`",
        )
    arguments: dict[str, object] = {"name": tag.name, "address": address}
    arguments["attribute"] = (cip_class, instance, attribute)
    arguments["topic"] = tag.topic
    arguments["data_type"] = data_type
    arguments.update(publishing(tag))
    return arguments


def _setting_span(route: ast.Route, config: dict, key: str) -> ast.Span:
    value = config.get(key)
    return value.span if isinstance(value, ast.SettingValue) else route.name.span
