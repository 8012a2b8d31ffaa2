"""The Siemens S7 route (SIEMENS_S7, S7) over python-snap7's asyncio client.

``S7Route`` polls its tags, each every ``tag.every`` seconds, and publishes
their values on the site broker.  Tags that share a period and a memory area
(one data block, the flags, the inputs or the outputs) are read together: a
run of tags no more than ``JOIN_GAP`` bytes apart is one read, which the
driver splits at the PDU size the PLC negotiated.  A writable tag reads
commands on its ``command_topic``: the text is converted to the tag's type
(scaling undone), written, read back, and the read-back value published.

S7 memory is big-endian, so there is no word or byte order to configure.  A
BOOL is one bit of a byte; writing it reads the byte, sets the bit and
writes the byte back (S7 has no masked write, and the other bits of that
byte can change in between: keep writable bits in bytes the PLC program does
not write).  A STRING is the S7 string layout: a byte with the declared
maximum length, a byte with the current length, then the characters; a
write leaves the declared length as the PLC has it.

Outages are handled as in the Modbus route: logged once, shown on the status
topic, retried with capped backoff; commands that arrive meanwhile are
dropped, not queued.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from snap7.async_client import AsyncClient
from snap7.error import S7Error, S7ProtocolError
from snap7.type import Area

from . import Setting
from .devices import DeviceRoute, command_flag, repeat, tag_number, unscaled

__all__ = ["JOIN_GAP", "S7Route", "S7Tag", "command_bytes", "decode"]

log = logging.getLogger("lot")

# Tags at most this many bytes apart are read in one request: reading a few
# unused bytes is cheaper than another round trip to the PLC.
JOIN_GAP = 16

_AREAS = {"DB": Area.DB, "M": Area.MK, "I": Area.PE, "Q": Area.PA}
# Data type -> struct format of its big-endian value.
_FORMATS = {
    "BYTE": "B",
    "USINT": "B",
    "SINT": "b",
    "INT": "h",
    "UINT": "H",
    "WORD": "H",
    "DINT": "i",
    "UDINT": "I",
    "DWORD": "I",
    "LINT": "q",
    "ULINT": "Q",
    "LWORD": "Q",
    "REAL": "f",
    "LREAL": "d",
}
_STRUCTS = {name: struct.Struct(">" + fmt) for name, fmt in _FORMATS.items()}


def size_of(data_type: str, length: int = 254) -> int:
    """Bytes a value of ``data_type`` takes in S7 memory."""
    if data_type == "BOOL":
        return 1
    if data_type == "STRING":
        return 2 + length
    return _STRUCTS[data_type].size


@dataclass(frozen=True, slots=True)
class S7Tag:
    """One value in PLC memory: ``start`` bytes into ``area`` (data block
    ``db`` when the area is ``"DB"``); a BOOL is bit ``bit`` of that byte."""

    name: str
    start: int
    topic: str
    area: str = "DB"  # DB, M (flags), I (inputs), Q (outputs)
    db: int = 0
    bit: int = 0
    data_type: str = "INT"
    length: int = 254  # characters a STRING may hold
    every: float = 1.0
    scaling: float = 1.0
    offset: float = 0.0
    deadband: float | None = None
    on_change: bool = False
    decimals: int | None = None
    writable: bool = False
    command_topic: str | None = None

    @property
    def size(self) -> int:
        return size_of(self.data_type, self.length)


@dataclass(slots=True)
class _Span:
    """Bytes of one area read in one request, and the tags inside them."""

    area: str
    db: int
    start: int
    end: int
    tags: list[S7Tag] = field(default_factory=list)


def plan(tags: Sequence[S7Tag]) -> list[_Span]:
    """The reads that cover ``tags``: one per run of nearby tags of an area."""
    spans: list[_Span] = []
    ordered = sorted(tags, key=lambda t: (t.area, t.db, t.start, t.name))
    for tag in ordered:
        last = spans[-1] if spans else None
        if (
            last is not None
            and (last.area, last.db) == (tag.area, tag.db)
            and tag.start <= last.end + JOIN_GAP
        ):
            last.end = max(last.end, tag.start + tag.size)
            last.tags.append(tag)
        else:
            spans.append(
                _Span(tag.area, tag.db, tag.start, tag.start + tag.size, [tag])
            )
    return spans


def decode(tag: S7Tag, data: bytes | bytearray) -> bool | int | float | str:
    """The raw value of ``tag`` from its own bytes (``tag.size`` of them)."""
    if tag.data_type == "BOOL":
        return bool(data[0] >> tag.bit & 1)
    if tag.data_type == "STRING":
        # The current length, bounded by the bytes read (the declared length
        # in data[0] is the PLC's business).
        used = min(data[1], len(data) - 2)
        return bytes(data[2 : 2 + used]).decode("latin-1")
    value: int | float = _STRUCTS[tag.data_type].unpack_from(data)[0]
    return value


class S7Route(DeviceRoute[S7Tag]):
    """An S7 PLC at ``host`` (rack and slot of its CPU) and its tags."""

    device = "PLC"
    driver_loggers = ("snap7",)
    # A refused read or write (S7ProtocolError, an S7Error too) is handled
    # where it happens and never ends the connection.
    failures = (S7Error, OSError, TimeoutError)

    def __init__(
        self,
        *,
        name: str,
        tags: Sequence[S7Tag],
        host: Setting,
        port: Setting = 102,
        rack: Setting = 0,
        slot: Setting = 1,
        timeout: float = 3.0,
        connect_timeout: float = 5.0,
    ) -> None:
        for tag in tags:
            if tag.writable and tag.area == "I":
                raise ValueError(f"tag {tag.name}: an input cannot be written")
        settings = {"host": host, "port": port, "rack": rack, "slot": slot}
        super().__init__(name, tags, settings)
        self.timeout = timeout
        self.connect_timeout = connect_timeout

    def describe(self, resolved: Mapping[str, Setting]) -> str:
        return (
            f"S7 PLC at {resolved['host']}:{resolved['port']} "
            f"rack {resolved['rack']} slot {resolved['slot']}"
        )

    async def connection(self, resolved: Mapping[str, Setting]) -> None:
        """Connect, then poll and write until a request fails."""
        client = AsyncClient()
        try:
            await asyncio.wait_for(
                client.connect(
                    str(resolved["host"]),
                    int(str(resolved["rack"])),
                    int(str(resolved["slot"])),
                    tcp_port=int(str(resolved["port"])),
                ),
                self.connect_timeout,
            )
            self.online()
            await self.serve(
                *(self._poll(client, every, tags) for every, tags in self.by_period()),
                self._write_loop(client),
            )
        finally:
            await _close(client)

    async def _poll(self, client: AsyncClient, every: float, tags: list[S7Tag]) -> None:
        """Read ``tags`` every ``every`` seconds."""
        spans = plan(tags)

        async def step() -> None:
            nonlocal spans
            for span in list(spans):
                data = await self._read(client, span)
                if data is None:
                    spans = self._refused(span, spans)
                    continue
                for tag in span.tags:
                    at = tag.start - span.start
                    self._publish(tag, data[at : at + tag.size])

        await repeat(every, step)

    async def _read(self, client: AsyncClient, span: _Span) -> bytearray | None:
        """The bytes of one span; None when the PLC refuses the address (a
        data block that does not exist or is shorter than the span)."""
        try:
            return await asyncio.wait_for(
                client.read_area(
                    _AREAS[span.area], span.db, span.start, span.end - span.start
                ),
                self.timeout,
            )
        except S7ProtocolError:
            return None

    def _refused(self, span: _Span, spans: list[_Span]) -> list[_Span]:
        """A read the PLC refused: read a joined span tag by tag from now on;
        a single tag is reported once and stays in the plan."""
        if len(span.tags) > 1:
            log.warning(
                "route %s: the PLC refused one read of %d tags in %s; "
                "reading them one by one",
                self.name,
                len(span.tags),
                _describe_area(span.area, span.db),
            )
            alone = [
                _Span(t.area, t.db, t.start, t.start + t.size, [t]) for t in span.tags
            ]
            index = spans.index(span)
            return spans[:index] + alone + spans[index + 1 :]
        self._warn(span.tags[0], "refused", "the PLC refuses to read it")
        return spans

    def _publish(
        self, tag: S7Tag, data: bytes | bytearray, force: bool = False
    ) -> None:
        raw = decode(tag, data)
        value = (
            raw
            if isinstance(raw, bool | str)
            else tag_number(tag, raw, float32=tag.data_type == "REAL")
        )
        self.publish_value(tag, value, force)

    # -- writes

    async def _write_loop(self, client: AsyncClient) -> None:
        while True:
            tag, payload = await self._commands.queue.get()
            try:
                await self._write(client, tag, payload)
            except ValueError as exc:
                self._warn(tag, "bad", f"command ignored: {exc}")
            except S7ProtocolError:
                self._warn(tag, "write", "the PLC refused the write")

    async def _write(self, client: AsyncClient, tag: S7Tag, payload: bytes) -> None:
        """Write one command and publish what the PLC holds afterwards.  A
        BOOL's byte and a STRING's declared length are read first: the bit
        is set in the byte as it is, and the declared length is kept."""
        area = _AREAS[tag.area]
        first = 0
        if tag.data_type in ("BOOL", "STRING"):
            first = (await client.read_area(area, tag.db, tag.start, 1))[0]
        data = command_bytes(tag, payload, first)
        # A STRING's first byte is its declaration, not its value.
        skip = 1 if tag.data_type == "STRING" else 0
        await client.write_area(area, tag.db, tag.start + skip, bytearray(data[skip:]))
        back = await client.read_area(area, tag.db, tag.start, len(data))
        if bytes(back[skip:]) != data[skip:]:
            self._warn(tag, "confirm", "the write was not confirmed by a read")
        self._publish(tag, back, force=True)
        log.debug("route %s: wrote tag %s", self.name, tag.name)


def command_bytes(tag: S7Tag, payload: bytes, first: int = 0) -> bytes:
    """The bytes a command payload asks ``tag`` to hold, given ``first``, the
    tag's first byte as the PLC holds it.  BOOL takes true/false/1/0/on/off
    and sets its bit in that byte; STRING its text (Latin-1, at most the
    declared length, which is ``first`` when the PLC has one, else
    ``tag.length``); numbers are unscaled (``(value - offset) / scaling``),
    rounded for integer types and checked against the type's range."""
    text = payload.decode("utf-8", errors="replace").strip()
    if tag.data_type == "BOOL":
        flag = command_flag(text)
        mask = 1 << tag.bit
        return bytes([first | mask if flag else first & ~mask & 0xFF])
    if tag.data_type == "STRING":
        declared = first or tag.length
        try:
            encoded = text.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError("an S7 STRING holds Latin-1 characters only") from None
        if len(encoded) > min(declared, tag.length):
            raise ValueError(
                f"longer than the STRING's {min(declared, tag.length)} characters"
            )
        return bytes([declared, len(encoded)]) + encoded
    raw = unscaled(tag, tag.data_type, text)
    try:
        if tag.data_type not in ("REAL", "LREAL"):
            raw = round(raw)
        return _STRUCTS[tag.data_type].pack(raw)
    except (struct.error, OverflowError, ValueError):
        raise ValueError(f"{text} does not fit {tag.data_type}") from None


def _describe_area(area: str, db: int) -> str:
    return (
        f"DB{db}"
        if area == "DB"
        else {"M": "flags", "I": "inputs"}.get(area, "outputs")
    )


async def _close(client: Any) -> None:
    """Drop the connection; a failure to say goodbye changes nothing."""
    try:
        await client.disconnect()
    except Exception:  # noqa: BLE001 - the socket may already be gone
        log.debug("S7 disconnect failed", exc_info=True)
