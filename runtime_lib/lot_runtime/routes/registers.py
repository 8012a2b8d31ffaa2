"""Modbus data: register words to values and back, and reads planned in spans.

Pure functions, no I/O.  A value of more than one register is laid out in
``word_order`` (``big``: the first register holds the most significant word)
and each register's two bytes in ``byte_order`` (``big``: high byte first).
Both default to big, the Modbus specification's own order ("ABCD").  A
STRING is its bytes in register order, NUL-padded; word order does not apply.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar

__all__ = [
    "BIT_TABLES",
    "DATA_TYPES",
    "MAX_BITS",
    "MAX_REGISTERS",
    "Span",
    "decode",
    "encode",
    "plan",
    "split",
    "width",
]

Order = Literal["big", "little"]
Value = int | float | bool | str

# Register tables, named as the pymodbus read functions name them.
TABLES = ("coil", "discrete_input", "input_register", "holding_register")
BIT_TABLES = frozenset({"coil", "discrete_input"})

# Per request, from the Modbus specification: 125 registers, 2000 bits.
MAX_REGISTERS = 125
MAX_BITS = 2000
# Tags up to this many registers (bits) apart are read in one request; a
# device that refuses to answer for the hole is read tag by tag instead.
MAX_GAP_REGISTERS = 8
MAX_GAP_BITS = 64

_FORMATS = {
    "INT16": "h",
    "UINT16": "H",
    "INT32": "i",
    "UINT32": "I",
    "INT64": "q",
    "UINT64": "Q",
    "FLOAT32": "f",
    "FLOAT64": "d",
}
DATA_TYPES = (*_FORMATS, "BOOL", "STRING")


def width(data_type: str, length: int = 1) -> int:
    """Registers (or bits) a value of ``data_type`` takes; STRING: ``length``."""
    if data_type == "STRING":
        return length
    if data_type == "BOOL":
        return 1
    return struct.calcsize(_FORMATS[data_type]) // 2


def _bytes(words: Sequence[int], word_order: Order, byte_order: Order) -> bytes:
    ordered = list(words) if word_order == "big" else list(reversed(words))
    return b"".join(w.to_bytes(2, byte_order) for w in ordered)


def _words(data: bytes, word_order: Order, byte_order: Order) -> list[int]:
    words = [
        int.from_bytes(data[i : i + 2], byte_order) for i in range(0, len(data), 2)
    ]
    return words if word_order == "big" else list(reversed(words))


def decode(
    words: Sequence[int],
    data_type: str,
    *,
    word_order: Order = "big",
    byte_order: Order = "big",
) -> Value:
    """The value held in ``words`` (register values, 0-65535)."""
    if data_type == "BOOL":
        return bool(words[0])
    if data_type == "STRING":
        data = _bytes(words, "big", byte_order)
        return data.split(b"\0", 1)[0].decode("utf-8", errors="replace")
    data = _bytes(words, word_order, byte_order)
    value: Value = struct.unpack(">" + _FORMATS[data_type], data)[0]
    return value


def encode(
    value: Value,
    data_type: str,
    *,
    word_order: Order = "big",
    byte_order: Order = "big",
    length: int = 1,
) -> list[int]:
    """Register words holding ``value``; ValueError when it does not fit."""
    if data_type == "BOOL":
        return [1 if value else 0]
    if data_type == "STRING":
        data = str(value).encode("utf-8")
        if len(data) > 2 * length:
            raise ValueError(f"text longer than {2 * length} bytes")
        return _words(data.ljust(2 * length, b"\0"), "big", byte_order)
    code = _FORMATS[data_type]
    if code in "fd":
        if isinstance(value, str):
            raise ValueError("not a number")
        number: float | int = float(value)
        if (
            code == "f"
            and math.isfinite(number)
            and abs(number) > 3.4028234663852886e38
        ):
            raise ValueError("out of range for FLOAT32")
    else:
        number = _integral(value)
    try:
        data = struct.pack(">" + code, number)
    except struct.error as exc:
        raise ValueError(f"out of range for {data_type}") from exc
    return _words(data, word_order, byte_order)


def _integral(value: Value) -> int:
    if isinstance(value, str):
        raise ValueError("not a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return round(value)
    return int(value)


class Located(Protocol):
    """What ``plan`` needs of a tag."""

    @property
    def table(self) -> str: ...

    @property
    def address(self) -> int: ...

    @property
    def width(self) -> int: ...


T = TypeVar("T", bound=Located)


@dataclass(frozen=True, slots=True)
class Span(Generic[T]):
    """One read request: ``count`` registers (bits) of ``table`` from
    ``start``, answering for ``tags``."""

    table: str
    start: int
    count: int
    tags: tuple[T, ...]

    def words(self, tag: T, answer: Sequence[int]) -> Sequence[int]:
        """The slice of a read's answer that holds ``tag``."""
        first = tag.address - self.start
        return answer[first : first + tag.width]


def plan(tags: Sequence[T]) -> list[Span[T]]:
    """Reads covering ``tags`` in as few requests as the limits allow: tags of
    one table, sorted by address, joined while the request stays within the
    size limit and the hole between them is small."""
    spans: list[Span[T]] = []
    for table in TABLES:
        bits = table in BIT_TABLES
        limit = MAX_BITS if bits else MAX_REGISTERS
        gap = MAX_GAP_BITS if bits else MAX_GAP_REGISTERS
        ordered = sorted((t for t in tags if t.table == table), key=lambda t: t.address)
        group: list[T] = []
        start = end = 0
        for tag in ordered:
            tag_end = tag.address + tag.width
            joins = (
                bool(group) and tag.address - end <= gap and tag_end - start <= limit
            )
            if group and not joins:
                spans.append(Span(table, start, end - start, tuple(group)))
                group = []
            if not group:
                start, end = tag.address, tag_end
            group.append(tag)
            end = max(end, tag_end)
        if group:
            spans.append(Span(table, start, end - start, tuple(group)))
    return spans


def split(span: Span[T]) -> list[Span[T]]:
    """``span`` as one request per tag."""
    return [Span(span.table, t.address, t.width, (t,)) for t in span.tags]
