"""Lowering of MODBUS / MODBUS_TCP and MODBUS_SERIAL routes to ``ModbusRoute``.

Input: a checked Modbus route.  Output: its ``RouteView`` and the problems a
device would only reveal at run time, reported now: an address that is not a
register (LOT410), two tags on one register (LOT411), a data type that does
not fit its register class or its address range (LOT412), a WRITABLE input
register or discrete input (LOT413).

Addresses: with ``ADDRESS_TYPE`` the ADDRESS is the zero-based number in that
table; without it, Modicon notation (``40011`` = holding register 10,
``300001`` = input register 0; 0xxxx coils, 1xxxx discrete inputs).  A
STRING takes the registers of a range (``"40100-40109"``), else those of
its ``LENGTH`` characters (two to a register), else 16.
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
from lotc.frontend.route_schemas import resolve_settings, route_schema
from lotc.frontend.site import Site

# LoT data type spellings -> the runtime's Modbus types.
DATA_TYPES = {
    **{t: t for t in ("INT16", "UINT16", "INT32", "UINT32", "INT64", "UINT64")},
    **{"FLOAT32": "FLOAT32", "FLOAT64": "FLOAT64", "BOOL": "BOOL", "STRING": "STRING"},
    **{"INT": "INT16", "UINT": "UINT16", "WORD": "UINT16", "DINT": "INT32"},
    **{"UDINT": "UINT32", "DWORD": "UINT32", "LINT": "INT64", "ULINT": "UINT64"},
    **{"LWORD": "UINT64", "REAL": "FLOAT32", "FLOAT": "FLOAT32", "LREAL": "FLOAT64"},
    **{"DOUBLE": "FLOAT64", "BOOLEAN": "BOOL"},
}
WIDTHS = {"INT16": 1, "UINT16": 1, "INT32": 2, "UINT32": 2, "INT64": 4, "UINT64": 4}
WIDTHS |= {"FLOAT32": 2, "FLOAT64": 4, "BOOL": 1}
STRING_REGISTERS = 16
LAST_ADDRESS = 65535

TABLES = {
    "HOLDING_REGISTER": "holding_register",
    "INPUT_REGISTER": "input_register",
    "COIL": "coil",
    "DISCRETE_INPUT": "discrete_input",
}
_MODICON = {"0": "coil", "1": "discrete_input", "3": "input_register"}
_MODICON["4"] = "holding_register"
_BITS = ("coil", "discrete_input")
_SPACED = {t: t.replace("_", " ") for t in TABLES.values()}


@register("MODBUS_TCP", "MODBUS_SERIAL")
def lower_modbus(route: ast.Route, site: Site) -> tuple[RouteView, list[Diagnostic]]:
    schema = route_schema(route.route_type)
    route_type = schema.type if schema else "MODBUS_TCP"
    view = new_view(route, route_type)
    view.extras = ["modbus"]
    view.imports = ["from lot_runtime.routes.modbus import ModbusRoute, ModbusTag"]
    problems: list[Diagnostic] = []

    lowered, found = lower_tags(tags_of(route), _lower_tag)
    problems.extend(found)
    problems.extend(_overlaps(lowered))

    config = resolve_settings(route, "MODBUS_CONFIG")
    arguments = [f"name={route.name.text!r}"]
    if route_type == "MODBUS_SERIAL":
        keys = ("COM_PORT", "BAUD_RATE", "PARITY", "DATA_BITS", "STOP_BITS")
        names = ("serial_port", "baud_rate", "parity", "data_bits", "stop_bits")
    else:
        keys, names = ("HOST", "PORT"), ("host", "port")
    for key, name in zip(keys + ("SLAVE_ID",), names + ("unit_id",), strict=True):
        if key in config:
            whole = key not in ("HOST", "COM_PORT", "PARITY", "STOP_BITS")
            arguments.append(f"{name}={config_text(config[key], whole=whole)}")
    read_timeout = number(config, "READ_TIMEOUT")
    connect_timeout = number(config, "CONNECTION_TIMEOUT")
    if read_timeout is not None:
        arguments.append(f"timeout={read_timeout / 1000!r}")
    if connect_timeout is not None:
        arguments.append(f"connect_timeout={connect_timeout / 1000!r}")
    tags = "".join(f"{call('ModbusTag', a)}, " for _, a in lowered)
    arguments.append(f"tags=({tags})")
    view.constructor = f"ModbusRoute({', '.join(arguments)})"
    view.imports = sorted(view.imports + settings_imports(view.constructor))
    view.route_class = "ModbusRoute"
    view.reads = sorted({t.command_topic for t, _ in lowered if t.command_topic})
    view.writes = sorted({t.topic for t, _ in lowered})
    return view, problems


def _lower_tag(tag: Tag) -> dict[str, object]:
    written = (text(tag.settings, "DATA_TYPE") or "").upper()
    data_type = DATA_TYPES.get(written)
    if data_type is None:
        raise TagProblem(
            messages.TYPE_WIDTH_MISMATCH,
            f"`{written}` is not a Modbus data type",
            "use INT16, UINT16, INT32, UINT32, INT64, UINT64, FLOAT32, FLOAT64, "
            "BOOL or STRING",
            key="DATA_TYPE",
        )
    table, address, count = _address(tag)
    if table in _BITS and data_type != "BOOL":
        raise TagProblem(
            messages.TYPE_WIDTH_MISMATCH,
            f"a {_SPACED[table]} holds one bit, so it cannot be {data_type}",
            "read a BOOL here, or the value from a register",
            key="DATA_TYPE",
        )
    width = count if data_type == "STRING" else WIDTHS[data_type]
    if count > 1 and data_type != "STRING" and count != width:
        raise TagProblem(
            messages.TYPE_WIDTH_MISMATCH,
            f"{data_type} takes {width} registers, but the address spans {count}",
        )
    if data_type == "STRING":
        width = _string_registers(tag, count)
    if address + width - 1 > LAST_ADDRESS:
        raise TagProblem(
            messages.BAD_DEVICE_ADDRESS,
            f"{data_type} at {address} runs past the last register ({LAST_ADDRESS})",
        )
    if tag.command_topic and table in ("input_register", "discrete_input"):
        raise TagProblem(
            messages.READ_ONLY_TAG,
            "",
            "read it without WRITABLE, or write the matching holding register or coil",
            key="WRITABLE",
            table=f"an {_SPACED[table]}",
        )
    arguments: dict[str, object] = {
        "name": tag.name,
        "address": address,
        "topic": tag.topic,
        "table": table,
        "data_type": data_type,
    }
    if data_type == "STRING":
        arguments["length"] = width
    for key in ("WORD_ORDER", "BYTE_ORDER"):
        order = (text(tag.settings, key) or "").lower()
        if order in ("big", "little"):
            arguments[key.lower()] = order
    arguments.update(publishing(tag))
    arguments["_width"] = width
    return arguments


def _string_registers(tag: Tag, count: int) -> int:
    """Registers of a STRING: its address range, else enough for its
    ``LENGTH`` characters (two to a register), else STRING_REGISTERS."""
    length = number(tag.settings, "LENGTH")
    if length is None:
        return count if count > 1 else STRING_REGISTERS
    needed = (int(length) + 1) // 2
    if count > 1 and count != needed:
        raise TagProblem(
            messages.TYPE_WIDTH_MISMATCH,
            f"LENGTH {int(length)} takes {needed} registers, but the address "
            f"spans {count}",
            "drop LENGTH, or make the range match it",
            key="LENGTH",
        )
    return needed


def _address(tag: Tag) -> tuple[str, int, int]:
    """(table, zero-based address, registers written in a range or 1)."""
    written = (text(tag.settings, "ADDRESS") or "").strip()
    explicit = text(tag.settings, "ADDRESS_TYPE")
    match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", written)
    if match is None:
        raise TagProblem(
            messages.BAD_DEVICE_ADDRESS, f"`{written}` is not a register number"
        )
    first, last = match.group(1), match.group(2) or match.group(1)
    if explicit is not None:
        table = TABLES[explicit.upper()]
        start, end = int(first), int(last)
    else:
        if len(first) not in (5, 6) or first[0] not in _MODICON:
            raise TagProblem(
                messages.BAD_DEVICE_ADDRESS,
                f"`{written}` is not Modicon notation and no ADDRESS_TYPE is given",
                "write 4xxxx for holding registers (40001 is register 0), "
                "or add ADDRESS_TYPE with a zero-based ADDRESS",
            )
        table = _MODICON[first[0]]
        start, end = int(first[1:]) - 1, int(last[1:]) - 1
        if last[0] != first[0]:
            end = -1
    if start < 0 or start > LAST_ADDRESS or end < start or end > LAST_ADDRESS:
        raise TagProblem(
            messages.BAD_DEVICE_ADDRESS,
            f"`{written}` is outside registers 0-{LAST_ADDRESS}",
        )
    return table, start, end - start + 1


def _overlaps(lowered: list[tuple[Tag, dict[str, object]]]) -> list[Diagnostic]:
    """LOT411 for each tag that shares a register with an earlier one."""
    found: list[Diagnostic] = []
    taken: list[tuple[str, int, int, str]] = []
    for tag, arguments in lowered:
        table, start = str(arguments["table"]), int(str(arguments["address"]))
        end = start + int(str(arguments.pop("_width")))
        for other_table, other_start, other_end, other in taken:
            if other_table == table and start < other_end and other_start < end:
                found.append(
                    messages.OVERLAPPING_ADDRESSES.at(
                        setting_span(tag, "ADDRESS"),
                        name=tag.name,
                        other=other,
                        table=_SPACED[table],
                        address=max(start, other_start),
                        help="give each value registers of its own",
                    )
                )
                break
        taken.append((table, start, end, tag.name))
    return found
