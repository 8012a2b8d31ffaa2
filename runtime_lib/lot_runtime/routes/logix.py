"""The Allen-Bradley route (ALLEN_BRADLEY) for Logix controllers, over pylogix.

``LogixRoute`` reads tags of a ControlLogix, CompactLogix or Micro800
controller by name (``Program:Packaging.CaseCount``, ``Temps[3]``,
``Line.Speed``) every ``tag.every`` seconds and publishes their values on
the site broker.  Logix tags carry their own type, so the controller says
what a value is; the declared ``data_type`` is checked against it (a
mismatch is logged once) and decides how commands are converted.  A
writable tag reads commands on its ``command_topic``: the text is converted
to the tag's type (scaling undone, range checked), written, read back, and
the read-back value published.

Tags of one period are read together in CIP Multiple Service requests,
which pylogix packs to the connection size the controller granted; a
Micro800 has no such service and is read tag by tag, as are STRING tags
(pylogix decodes strings only from a reply of their own).

pylogix is a blocking client.  Each route runs it on one worker thread of
its own, so the event loop never waits on the PLC and requests to one
controller never interleave; its socket timeout bounds every call.  pylogix
reports a lost link as a status rather than an exception, so the route
checks the link after every call and turns a lost one into
``LogixLinkError``: then, as in every device route, the outage is logged
once, shown on the status topic and retried with capped backoff, and
commands arriving meanwhile are dropped.
"""

from __future__ import annotations

import asyncio
import logging
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

# pylogix ships no type information.
from pylogix import PLC  # type: ignore[import-untyped]

from . import Setting
from .devices import DeviceRoute, repeat, tag_number
from .devices import typed_command as command_value

__all__ = [
    "LogixLinkError",
    "LogixRoute",
    "LogixTag",
    "attribute_value",
    "command_value",
    "route_path",
]

log = logging.getLogger("lot")

_SUCCESS = "Success"
# CIP type codes the controller reports -> the data type they are.  A
# structure (0xA0) may be a STRING or any user type, so it is not checked.
_CIP_TYPES = {
    0xC1: "BOOL",
    0xC2: "SINT",
    0xC3: "INT",
    0xC4: "DINT",
    0xC5: "LINT",
    0xC6: "USINT",
    0xC7: "UINT",
    0xC8: "UDINT",
    0xC9: "ULINT",
    0xCA: "REAL",
    0xCB: "LREAL",
    0xDA: "STRING",  # SHORT_STRING
}
# Get_Attribute_Single, and where the general status of an unconnected reply
# stands in what pylogix returns (the encapsulation and CPF headers first).
_GET_ATTRIBUTE = 0x0E
_REPLY_STATUS = 42
_ATTRIBUTE_LAYOUTS = {
    name: struct.Struct("<" + code)
    for name, code in (
        ("BOOL", "B"),
        ("SINT", "b"),
        ("INT", "h"),
        ("DINT", "i"),
        ("LINT", "q"),
        ("USINT", "B"),
        ("UINT", "H"),
        ("UDINT", "I"),
        ("ULINT", "Q"),
        ("REAL", "f"),
        ("LREAL", "d"),
    )
}
# A trailing ``.N`` selects a bit of an integer tag.
_BIT_OF_WORD = re.compile(r"\.\d+$")

T = TypeVar("T")


class LogixLinkError(ConnectionError):
    """The connection to the controller is gone, or its reply was unreadable."""


@dataclass(frozen=True, slots=True)
class LogixTag:
    """One controller or program tag (or a member or element of one)."""

    name: str
    address: str  # the tag name as the controller knows it
    topic: str
    data_type: str = "DINT"
    length: int = 82  # characters a STRING holds (Logix's STRING: 82)
    every: float = 1.0
    scaling: float = 1.0
    offset: float = 0.0
    deadband: float | None = None
    on_change: bool = False
    decimals: int | None = None
    writable: bool = False
    command_topic: str | None = None
    # (class, instance, attribute) of a CIP object attribute, read with
    # Get_Attribute_Single instead of the tag name.
    attribute: tuple[int, int, int] | None = None

    @property
    def base(self) -> str:
        """The name pylogix keeps the tag's type under: no element, member
        bit or program scope is part of it."""
        return re.sub(r"\[.*$", "", self.address.split(".")[0])


def route_path(text: str) -> list[tuple[int, int | str]]:
    """A CIP route as RSLinx writes it, ``port,link[,port,link...]``: ``1,0``
    is the backplane (port 1) to slot 0; ``2,192.168.1.10`` leaves through
    an Ethernet module (port 2) to that address."""
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    if len(parts) % 2:
        raise ValueError(f"route path {text!r} is not pairs of port and link")
    hops: list[tuple[int, int | str]] = []
    for port, link in zip(parts[::2], parts[1::2], strict=True):
        hops.append((int(port), int(link) if link.isdigit() else link))
    return hops


class LogixRoute(DeviceRoute[LogixTag]):
    """A Logix controller at ``host`` (its CPU in ``slot``) and its tags."""

    device = "PLC"
    driver_loggers = ("pylogix",)
    failures = (LogixLinkError, OSError, TimeoutError)

    def __init__(
        self,
        *,
        name: str,
        tags: Sequence[LogixTag],
        host: Setting,
        port: Setting = 44818,
        slot: Setting = 0,
        path: Setting = "",
        micro800: bool = False,
        timeout: float = 5.0,
    ) -> None:
        for tag in tags:
            if tag.attribute is not None and tag.writable:
                raise ValueError(f"tag {tag.name}: attributes are read, not written")
        settings = {"host": host, "port": port, "slot": slot, "path": path}
        super().__init__(name, tags, settings)
        self.micro800 = micro800
        self.timeout = timeout
        self._checked: set[str] = set()  # tags whose PLC type was compared

    def describe(self, resolved: Mapping[str, Setting]) -> str:
        where = f"{resolved['host']}:{resolved['port']}"
        if self.micro800:
            return f"Micro800 at {where}"
        if resolved["path"]:
            return f"Logix PLC at {where} path {resolved['path']}"
        return f"Logix PLC at {where} slot {resolved['slot']}"

    async def connection(self, resolved: Mapping[str, Setting]) -> None:
        """Connect, then poll and write until the link is lost.  Tags go over
        a CIP connection (Forward Open); object attributes over a session of
        their own without one, since pylogix closes a connection to switch."""
        named = [t for t in self.tags if t.attribute is None]
        attributes = [t for t in self.tags if t.attribute is not None]
        worker = ThreadPoolExecutor(1, thread_name_prefix=f"logix-{self.name}")
        clients = []
        self._checked.clear()
        try:
            plc = self._client(resolved)
            if named:
                clients.append(plc)
                await self._open(worker, plc, connected=True)
            device = self._client(resolved)
            if attributes:
                clients.append(device)
                await self._open(worker, device, connected=False)
            self.online()
            await self.serve(
                *(
                    self._poll(worker, plc, every, tags)
                    for every, tags in self.by_period(named)
                ),
                *(
                    self._poll_attributes(worker, device, every, tags)
                    for every, tags in self.by_period(attributes)
                ),
                self._write_loop(worker, plc),
            )
        finally:
            for client in clients:
                worker.submit(_close, client)
            worker.shutdown(wait=False)

    def _client(self, resolved: Mapping[str, Setting]) -> Any:
        plc = PLC(
            str(resolved["host"]),
            slot=int(str(resolved["slot"])),
            timeout=self.timeout,
            Micro800=self.micro800,
            port=int(str(resolved["port"])),
        )
        plc.SocketTimeout = self.timeout
        if resolved["path"]:
            plc.Route = route_path(str(resolved["path"]))
        return plc

    async def _open(
        self, worker: ThreadPoolExecutor, plc: Any, connected: bool
    ) -> None:
        opened = await self._call(
            worker, plc, plc.conn.connect, connected, linked=False
        )
        if not opened[0]:
            raise LogixLinkError(str(opened[1]))

    async def _call(
        self,
        worker: ThreadPoolExecutor,
        plc: Any,
        request: Callable[..., T],
        *arguments: Any,
        linked: bool = True,
    ) -> T:
        """Run one pylogix request on the route's thread.  A reply pylogix
        cannot parse is LogixLinkError, and so is a link that is gone
        afterwards (when ``linked``: the request needs the connection)."""
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(worker, request, *arguments)
        except (OSError, LogixLinkError):
            raise
        except Exception as exc:  # noqa: BLE001 - pylogix parsing a bad reply
            raise LogixLinkError(f"unreadable reply from the PLC ({exc})") from exc
        if linked and not plc.conn.SocketConnected:
            raise LogixLinkError("connection lost")
        return result

    async def _poll(
        self, worker: ThreadPoolExecutor, plc: Any, every: float, tags: list[LogixTag]
    ) -> None:
        """Read ``tags`` every ``every`` seconds."""
        # pylogix decodes a STRING only from a reply of its own, and a
        # Micro800 has no Multiple Service request.
        together = [t for t in tags if t.data_type != "STRING"]
        if self.micro800 or len(together) < 2:
            together = []
        alone = [t for t in tags if t not in together]

        async def step() -> None:
            if together:
                addresses = [t.address for t in together]
                replies = await self._call(worker, plc, plc.Read, addresses)
                for tag, reply in zip(together, replies, strict=True):
                    self._publish(plc, tag, reply.Value, reply.Status)
            for tag in alone:
                reply = await self._call(worker, plc, plc.Read, tag.address)
                self._publish(plc, tag, reply.Value, reply.Status)

        await repeat(every, step)

    async def _poll_attributes(
        self,
        worker: ThreadPoolExecutor,
        device: Any,
        every: float,
        tags: list[LogixTag],
    ) -> None:
        """Read CIP object attributes every ``every`` seconds, one request
        each (Get_Attribute_Single)."""

        async def step() -> None:
            for tag in tags:
                assert tag.attribute is not None
                reply = await self._call(
                    worker, device, device.Message, _GET_ATTRIBUTE, *tag.attribute
                )
                if reply.Status != _SUCCESS:
                    self._warn(
                        tag, "read", f"the device refuses to read it: {reply.Status}"
                    )
                    continue
                try:
                    raw = attribute_value(tag.data_type, _reply_data(reply.Value))
                except ValueError as exc:
                    self._warn(tag, "shape", f"the attribute cannot be read: {exc}")
                    continue
                self._publish(device, tag, raw, _SUCCESS)

        await repeat(every, step)

    def _publish(
        self, plc: Any, tag: LogixTag, raw: Any, status: str, force: bool = False
    ) -> None:
        if status != _SUCCESS:
            self._warn(tag, "read", f"the PLC refuses to read it: {status}")
            return
        self._check_type(plc, tag)
        if isinstance(raw, bytes | bytearray | list):
            self._warn(tag, "shape", "it is a structure or an array: name a member")
            return
        value: object = raw
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            value = tag_number(tag, raw, float32=tag.data_type == "REAL")
        self.publish_value(tag, value, force)

    def _check_type(self, plc: Any, tag: LogixTag) -> None:
        """Once per connection and tag: warn when the controller's type for
        the tag is not the declared one."""
        if tag.name in self._checked:
            return
        self._checked.add(tag.name)
        actual = _plc_type(plc, tag)
        if actual not in (None, tag.data_type):
            self._warn(
                tag,
                "type",
                f"the PLC says {tag.address} is {actual}, not {tag.data_type}; "
                "publishing what the PLC holds, refusing commands",
            )

    # -- writes

    async def _write_loop(self, worker: ThreadPoolExecutor, plc: Any) -> None:
        while True:
            tag, payload = await self._commands.queue.get()
            try:
                value = command_value(tag, payload)
            except ValueError as exc:
                self._warn(tag, "bad", f"command ignored: {exc}")
                continue
            if _plc_type(plc, tag) not in (None, tag.data_type):
                self._warn(tag, "type-write", "command ignored: the types disagree")
                continue
            written = await self._call(worker, plc, plc.Write, tag.address, value)
            if written.Status != _SUCCESS:
                self._warn(tag, "write", f"the PLC refused the write: {written.Status}")
                continue
            back = await self._call(worker, plc, plc.Read, tag.address)
            if back.Status == _SUCCESS and not _same(back.Value, value, tag):
                self._warn(tag, "confirm", "the write was not confirmed by a read")
            self._publish(plc, tag, back.Value, back.Status, force=True)
            log.debug("route %s: wrote tag %s", self.name, tag.name)


def attribute_value(data_type: str, data: bytes) -> bool | int | float | str:
    """The value of an attribute of ``data_type`` from its bytes (CIP is
    little-endian; a STRING attribute is a SHORT_STRING, a length byte and
    the characters)."""
    if data_type == "STRING":
        if not data or len(data) < 1 + data[0]:
            raise ValueError("the reply is shorter than its string")
        return data[1 : 1 + data[0]].decode("latin-1")
    layout = _ATTRIBUTE_LAYOUTS[data_type]
    if len(data) < layout.size:
        raise ValueError(f"{len(data)} bytes, but {data_type} takes {layout.size}")
    value: int | float = layout.unpack_from(data)[0]
    return bool(value) if data_type == "BOOL" else value


def _reply_data(raw: bytes) -> bytes:
    """The data of an unconnected CIP reply, after its status and any
    additional status words."""
    reply = bytes(raw)
    return reply[_REPLY_STATUS + 2 + 2 * reply[_REPLY_STATUS + 1] :]


def _plc_type(plc: Any, tag: LogixTag) -> str | None:
    """The data type the controller gave for ``tag`` when it was last read,
    if it is one a tag can declare (a bit of an integer is not compared)."""
    if tag.attribute is not None:
        return None
    known = plc.KnownTags.get(tag.base)
    if known is None or _BIT_OF_WORD.search(tag.address):
        return None
    return _CIP_TYPES.get(known[0])


def _same(read: Any, written: bool | int | float | str, tag: LogixTag) -> bool:
    """Whether a read-back value is the one written (a REAL as float32)."""
    if tag.data_type == "REAL" and isinstance(read, float):
        return tag_number(tag, read, float32=True) == tag_number(
            tag, float(written), float32=True
        )
    return bool(read == written)


def _close(plc: Any) -> None:
    """Say goodbye to the controller; a failure to do so changes nothing."""
    try:
        plc.Close()
    except Exception:  # noqa: BLE001 - the socket may already be gone
        log.debug("Logix close failed", exc_info=True)
