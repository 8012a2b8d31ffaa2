"""Lowering of SIEMENS_S7 (S7) routes to ``S7Route``.

Input: a checked S7 route.  Output: its ``RouteView`` and the problems the PLC
would only reveal at run time, reported now: an address that is not S7
notation or is out of range (LOT410), two tags on the same bytes or bit
(LOT411), a data type whose size does not match the address's size letter
(LOT412), a WRITABLE input (LOT413).

Addresses are Siemens absolute notation, with or without TIA Portal's ``%``:
``DB12.DBX8.3`` (bit 3 of byte 8 of data block 12), ``DB12.DBB8`` (byte),
``DB12.DBW8`` (word, 2 bytes), ``DB12.DBD8`` (double word, 4 bytes); the
flags, inputs and outputs the same way without the block (``M0.1``,
``MW10``, ``I0.0`` or German ``E0.0``, ``QD4`` or ``AD4``).  A BOOL takes a
bit address; other types take the size letter of their width, and the
types without one (the 8-byte LREAL, LINT, ULINT, LWORD, and STRING) are
addressed by their first byte, ``DBB``.  A STRING holds ``LENGTH``
characters, 254 (S7's own default) when not set.
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
    setting_span,
    settings_imports,
    tags_of,
    text,
)
from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.route_schemas import resolve_settings
from lotc.frontend.site import Site

# LoT data type spellings -> the runtime's S7 types.
DATA_TYPES = iec_types(
    *("BOOL", "BYTE", "SINT", "USINT", "INT", "UINT", "WORD", "DINT", "UDINT"),
    *("DWORD", "LINT", "ULINT", "LWORD", "REAL", "LREAL", "STRING"),
)
SIZES = {"BYTE": 1, "SINT": 1, "USINT": 1, "INT": 2, "UINT": 2, "WORD": 2}
SIZES |= {"DINT": 4, "UDINT": 4, "DWORD": 4, "REAL": 4}
SIZES |= {"LINT": 8, "ULINT": 8, "LWORD": 8, "LREAL": 8}
STRING_LENGTH = 254
LAST_BYTE = 65535
_AREAS = {"M": "M", "I": "I", "E": "I", "Q": "Q", "A": "Q"}
_AREA_NAMES = {"M": "flags", "I": "inputs", "Q": "outputs"}
_DB_ADDRESS = re.compile(r"DB(\d+)\.DB(?:X(\d+)\.(\d+)|([BWD])(\d+))")
_AREA_ADDRESS = re.compile(r"([MIEQA])(?:X?(\d+)\.(\d+)|([BWD])(\d+))")
_UNBUILT_CPUS = ("S7200", "LOGO")


@register("SIEMENS_S7")
def lower_s7(route: ast.Route, site: Site) -> tuple[RouteView, list[Diagnostic]]:
    view = new_view(route, "SIEMENS_S7")
    view.extras = ["s7"]
    view.imports = ["from lot_runtime.routes.s7 import S7Route, S7Tag"]
    problems: list[Diagnostic] = []
    config = resolve_settings(route, "S7_CONFIG")

    cpu = (text(config, "CPU_TYPE") or "").upper()
    if cpu in _UNBUILT_CPUS:
        value = config["CPU_TYPE"]
        span = value.span if isinstance(value, ast.SettingValue) else route.name.span
        problems.append(
            messages.UNSUPPORTED_STATEMENT.at(
                span,
                construct=f"`CPU_TYPE {cpu}` (it is reached by TSAP, not rack "
                "and slot)",
            )
        )

    lowered, found = lower_tags(tags_of(route), _lower_tag)
    problems.extend(found)
    problems.extend(_overlaps(lowered))

    arguments = [f"name={route.name.text!r}"]
    for key, name in (("IP", "host"), ("PORT", "port"), ("RACK", "rack")):
        if key in config:
            arguments.append(f"{name}={config_text(config[key], whole=key != 'IP')}")
    if "SLOT" in config:
        arguments.append(f"slot={config_text(config['SLOT'], whole=True)}")
    tags = "".join(f"{call('S7Tag', a)}, " for _, a in lowered)
    arguments.append(f"tags=({tags})")
    view.constructor = f"S7Route({', '.join(arguments)})"
    view.imports = sorted(view.imports + settings_imports(view.constructor))
    view.route_class = "S7Route"
    view.reads = sorted({t.command_topic for t, _ in lowered if t.command_topic})
    view.writes = sorted({t.topic for t, _ in lowered})
    return view, problems


def _lower_tag(tag: Tag) -> dict[str, object]:
    data_type = data_type_of(tag, DATA_TYPES, "an S7 data type")
    address = (text(tag.settings, "ADDRESS") or "").strip()
    area, db, start, bit, letter = _parse(address)
    length = STRING_LENGTH
    if data_type == "STRING":
        length = int(number(tag.settings, "LENGTH") or STRING_LENGTH)
    size = 2 + length if data_type == "STRING" else SIZES.get(data_type, 1)
    _check_size(address, data_type, letter, area, db, start)
    if start + size - 1 > LAST_BYTE:
        raise TagProblem(
            messages.BAD_DEVICE_ADDRESS,
            f"{data_type} at byte {start} runs past byte {LAST_BYTE}",
        )
    if tag.command_topic and area == "I":
        raise TagProblem(
            messages.READ_ONLY_TAG,
            "",
            "read it without WRITABLE, or write an output (Q) or a data block",
            key="WRITABLE",
            table="an input",
        )
    arguments: dict[str, object] = {"name": tag.name}
    if area == "DB":
        arguments["db"] = db
    else:
        arguments["area"] = area
    arguments["start"] = start
    if bit:
        arguments["bit"] = bit
    arguments["data_type"] = data_type
    if data_type == "STRING" and length != STRING_LENGTH:
        arguments["length"] = length
    arguments["topic"] = tag.topic
    arguments.update(publishing(tag))
    arguments["_bytes"] = (area, db, start, size, bit if data_type == "BOOL" else None)
    return arguments


def _parse(address: str) -> tuple[str, int, int, int, str]:
    """(area, data block, byte, bit, size letter or "X") of an S7 address."""
    written = address.upper().replace(" ", "").removeprefix("%")
    match = _DB_ADDRESS.fullmatch(written)
    if match:
        db_text, byte, bit, letter, sized = match.groups()
        db = int(db_text)
        if not 1 <= db <= 65535:
            raise TagProblem(
                messages.BAD_DEVICE_ADDRESS,
                f"`{address}` names data block {db}; data blocks are 1-65535",
            )
        area = "DB"
    else:
        match = _AREA_ADDRESS.fullmatch(written)
        if match is None:
            raise TagProblem(
                messages.BAD_DEVICE_ADDRESS,
                f"`{address}` is not an S7 address",
                "write `DB1.DBX0.0`, `DB1.DBB0`, `DB1.DBW0` or `DB1.DBD0` for a "
                "data block, or `M0.0`, `MW0`, `IW0`, `QD0` for flags, inputs "
                "and outputs",
            )
        letter_area, byte, bit, letter, sized = match.groups()
        area, db = _AREAS[letter_area], 0
    if byte is not None:
        start, bit_number, letter = int(byte), int(bit), "X"
        if bit_number > 7:
            raise TagProblem(
                messages.BAD_DEVICE_ADDRESS,
                f"`{address}` names bit {bit_number}; a byte has bits 0-7",
            )
    else:
        start, bit_number = int(sized), 0
    if start > LAST_BYTE:
        raise TagProblem(
            messages.BAD_DEVICE_ADDRESS,
            f"`{address}` is beyond byte {LAST_BYTE}",
        )
    return area, db, start, bit_number, letter


def _check_size(
    address: str, data_type: str, letter: str, area: str, db: int, start: int
) -> None:
    """LOT412 when the address's size letter does not fit the data type."""
    prefix = f"DB{db}.DB" if area == "DB" else area
    if data_type == "BOOL":
        if letter != "X":
            raise TagProblem(
                messages.TYPE_WIDTH_MISMATCH,
                f"a BOOL is one bit, but `{address}` is a whole "
                f"{_LETTER_NAMES[letter]}",
                f"give the bit: `{prefix}{'X' if area == 'DB' else ''}{start}.0`",
            )
        return
    wanted = {1: "B", 2: "W", 4: "D"}.get(SIZES.get(data_type, 0), "B")
    if letter != wanted:
        size = SIZES.get(data_type)
        needs = (
            f"takes {size} bytes"
            if size in (2, 4)
            else "takes one byte"
            if size == 1
            else "is addressed by its first byte"
        )
        what = "a bit" if letter == "X" else f"a {_LETTER_NAMES[letter]}"
        raise TagProblem(
            messages.TYPE_WIDTH_MISMATCH,
            f"{data_type} {needs}, but `{address}` is {what}",
            f"write `{prefix}{wanted}{start}`",
        )


_LETTER_NAMES = {"B": "byte", "W": "word", "D": "double word", "X": "bit"}


def _overlaps(lowered: list[tuple[Tag, dict[str, object]]]) -> list[Diagnostic]:
    """LOT411 for each tag that shares bytes (or, for BOOLs, the bit) with an
    earlier one."""
    found: list[Diagnostic] = []
    taken: list[tuple[tuple, str]] = []
    for tag, arguments in lowered:
        area, db, start, size, bit = arguments.pop("_bytes")  # type: ignore[misc]
        for (o_area, o_db, o_start, o_size, o_bit), other in taken:
            if (o_area, o_db) != (area, db):
                continue
            if not (start < o_start + o_size and o_start < start + size):
                continue
            if bit is not None and o_bit is not None and bit != o_bit:
                continue  # two bits of one byte
            where = f"DB{db}" if area == "DB" else _AREA_NAMES[area]
            found.append(
                messages.OVERLAPPING_ADDRESSES.at(
                    setting_span(tag, "ADDRESS"),
                    name=tag.name,
                    other=other,
                    table=where,
                    address=f"byte {max(start, o_start)}",
                    help="give each value bytes of its own",
                )
            )
            break
        taken.append(((area, db, start, size, bit), tag.name))
    return found
