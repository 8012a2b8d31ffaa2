"""The BACnet/IP route (BACNET) over bacpypes3.

``BacnetRoute`` reads the present value of each tag's object (``AI:0`` is
analog input 0) from one device every ``tag.every`` seconds, up to
``PER_REQUEST`` objects to a ReadPropertyMultiple request (one ReadProperty
per tag for a device that refuses those), and publishes it on the site
broker.  A
writable tag reads commands on its ``command_topic`` and writes them at its
``priority`` (BACnet's command priority, 8 "manual operator" by default):
analog objects take numbers (scaling undone), binary objects true/false
(written as active/inactive), multi-state objects whole state numbers; the
value read back is published.

BACnet/IP is UDP, so there is no connection to lose: the route counts the
device as reachable from its first answer and as gone when a request times
out, and then logs once, reports on its status topic and retries with
backoff as every device route does.  An error answer about one object (one
the device does not have, say) is logged once for that tag and the rest go
on.  The route's own BACnet/IP address is an ephemeral UDP port on every
interface unless ``local_address`` names one; devices answer the address a
request came from.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# bacpypes3 ships no type information.
from bacpypes3.apdu import ErrorRejectAbortNack  # type: ignore[import-untyped]
from bacpypes3.app import Application  # type: ignore[import-untyped]
from bacpypes3.argparse import SimpleArgumentParser  # type: ignore[import-untyped]
from bacpypes3.basetypes import (  # type: ignore[import-untyped]
    BinaryPV,
    ErrorType,
    PropertyIdentifier,
)
from bacpypes3.pdu import Address  # type: ignore[import-untyped]
from bacpypes3.primitivedata import (  # type: ignore[import-untyped]
    Boolean,
    Double,
    Enumerated,
    ObjectIdentifier,
    Real,
)

from lot_runtime import values

from . import Setting
from .devices import DeviceRoute, repeat, tag_number

__all__ = ["BacnetRoute", "BacnetTag", "command_value", "plain"]

log = logging.getLogger("lot")

# The object types a tag may name, by the property value they hold.
ANALOG = frozenset({"analog-input", "analog-output", "analog-value"})
BINARY = frozenset({"binary-input", "binary-output", "binary-value"})
MULTI_STATE = frozenset(
    {"multi-state-input", "multi-state-output", "multi-state-value"}
)
INPUTS = frozenset({"analog-input", "binary-input", "multi-state-input"})
MANUAL_OPERATOR = 8  # the command priority BACnet reserves for an operator
# Objects read in one ReadPropertyMultiple: the answer stays well inside the
# smallest common APDU (480 bytes).
PER_REQUEST = 16
_PRESENT_VALUE = PropertyIdentifier("present-value")


@dataclass(frozen=True, slots=True)
class BacnetTag:
    """One object of the device (``object_type`` spelled as BACnet does,
    ``analog-input``) whose present value goes to ``topic``."""

    name: str
    object_type: str
    instance: int
    topic: str
    every: float = 1.0
    scaling: float = 1.0
    offset: float = 0.0
    deadband: float | None = None
    on_change: bool = False
    decimals: int | None = None
    writable: bool = False
    command_topic: str | None = None
    priority: int = MANUAL_OPERATOR


class BacnetRoute(DeviceRoute[BacnetTag]):
    """A BACnet/IP device at ``host``:``port`` (device ``device_id``)."""

    failures = (OSError, TimeoutError)

    def __init__(
        self,
        *,
        name: str,
        tags: Sequence[BacnetTag],
        host: Setting,
        device_id: Setting,
        port: Setting = 47808,
        local_address: Setting = "0.0.0.0:0",
        timeout: float = 3.0,
    ) -> None:
        for tag in tags:
            if tag.writable and tag.object_type in INPUTS:
                raise ValueError(f"tag {tag.name}: an input cannot be written")
        settings = {
            "host": host,
            "port": port,
            "device_id": device_id,
            "local_address": local_address,
        }
        super().__init__(name, tags, settings)
        self.timeout = timeout
        self._peer: Any = None
        self._objects = {
            t: ObjectIdentifier(f"{t.object_type},{t.instance}") for t in self.tags
        }

    def describe(self, resolved: Mapping[str, Setting]) -> str:
        return (
            f"BACnet device {resolved['device_id']} at "
            f"{resolved['host']}:{resolved['port']}"
        )

    async def connection(self, resolved: Mapping[str, Setting]) -> None:
        """Open the route's BACnet/IP port, find the device, then poll and
        write until a request goes unanswered."""
        self._peer = Address(f"{resolved['host']}:{resolved['port']}")
        app = _application(str(resolved["local_address"]))
        try:
            device = f"device,{int(str(resolved['device_id']))}"
            await self._request(app.read_property(self._peer, device, "object-name"))
            self.online()
            await self.serve(
                *(self._poll(app, every, tags) for every, tags in self.by_period()),
                self._write_loop(app),
            )
        finally:
            app.close()

    async def _request(self, request: Any) -> Any:
        """One confirmed request; TimeoutError when the device is silent."""
        return await asyncio.wait_for(request, self.timeout)

    async def _poll(
        self, app: Application, every: float, tags: list[BacnetTag]
    ) -> None:
        """Read ``tags`` every ``every`` seconds, ``PER_REQUEST`` objects to a
        ReadPropertyMultiple; a group the device refuses as a whole is read
        tag by tag from then on."""
        groups = [tags[i : i + PER_REQUEST] for i in range(0, len(tags), PER_REQUEST)]
        alone: list[BacnetTag] = []

        async def step() -> None:
            for group in list(groups):
                if not await self._read_many(app, group):
                    groups.remove(group)
                    alone.extend(group)
            for tag in alone:
                await self._read_one(app, tag)

        await repeat(every, step)

    async def _read_many(self, app: Application, tags: list[BacnetTag]) -> bool:
        """Read and publish the present values of ``tags`` in one request;
        False when the device refuses the request as a whole."""
        asked: list[Any] = []
        for tag in tags:
            asked.extend((self._objects[tag], [_PRESENT_VALUE]))
        try:
            answer = await self._request(app.read_property_multiple(self._peer, asked))
        except ErrorRejectAbortNack as refusal:
            answer = refusal
        if not isinstance(answer, list) or len(answer) != len(tags):
            log.warning(
                "route %s: the device refused to read %d objects in one request "
                "(%s); reading them one by one",
                self.name,
                len(tags),
                _why(answer),
            )
            return False
        for tag, (_, _, _, value) in zip(tags, answer, strict=True):
            if isinstance(value, ErrorType):
                self._warn(
                    tag, "refused", f"the device refuses to read it: {_why(value)}"
                )
            else:
                self._publish(tag, value)
        return True

    async def _read_one(self, app: Application, tag: BacnetTag) -> None:
        try:
            value = await self._request(
                app.read_property(self._peer, self._objects[tag], _PRESENT_VALUE)
            )
        except ErrorRejectAbortNack as answer:
            self._warn(tag, "refused", f"the device refuses to read it: {_why(answer)}")
            return
        self._publish(tag, value)

    def _publish(self, tag: BacnetTag, value: Any, force: bool = False) -> None:
        found = plain(value)
        if isinstance(found, int | float) and not isinstance(found, bool):
            float32 = isinstance(value, Real) and not isinstance(value, Double)
            found = tag_number(tag, found, float32=float32)
        self.publish_value(tag, found, force)

    # -- writes

    async def _write_loop(self, app: Application) -> None:
        while True:
            tag, payload = await self._commands.queue.get()
            try:
                value = command_value(tag, payload)
            except ValueError as exc:
                self._warn(tag, "bad", f"command ignored: {exc}")
                continue
            try:
                await self._request(
                    app.write_property(
                        self._peer,
                        self._objects[tag],
                        _PRESENT_VALUE,
                        value,
                        priority=tag.priority,
                    )
                )
                back = await self._request(
                    app.read_property(self._peer, self._objects[tag], _PRESENT_VALUE)
                )
            except ErrorRejectAbortNack as answer:
                self._warn(
                    tag, "write", f"the device refused the write: {_why(answer)}"
                )
                continue
            if plain(back) != plain(value):
                self._warn(tag, "confirm", "the write was not confirmed by a read")
            self._publish(tag, back, force=True)
            log.debug("route %s: wrote tag %s", self.name, tag.name)


def plain(value: Any) -> object:
    """A BACnet value as a LoT value: a binary present value (active /
    inactive, also as a command spells it) as true / false, another
    enumeration as its name, numbers and text as they are."""
    if isinstance(value, BinaryPV):
        return int(value) == 1
    if isinstance(value, Boolean):
        return bool(value)
    if isinstance(value, Enumerated):
        return str(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    text = str(value)
    return text == "active" if text in ("active", "inactive") else text


def command_value(tag: BacnetTag, payload: bytes) -> object:
    """A command payload as the value ``tag``'s object takes: a number for
    analog objects (scaling undone), active / inactive for binary ones, a
    state number (1 or more) for multi-state ones."""
    text = payload.decode("utf-8", errors="replace").strip()
    if tag.object_type in BINARY:
        lowered = text.lower()
        if lowered not in ("true", "false", "1", "0", "on", "off"):
            raise ValueError("not a BOOL")
        return "active" if lowered in ("true", "1", "on") else "inactive"
    number = values.number(text)
    if number is None or tag.scaling == 0:
        raise ValueError("not a number")
    raw: int | float = number
    if tag.scaling != 1 or tag.offset != 0:
        raw = (number - tag.offset) / tag.scaling
    if tag.object_type in MULTI_STATE:
        state = round(raw)
        if state < 1 or state != raw:
            raise ValueError("a multi-state value is a whole state number from 1")
        return state
    return float(raw)


def _why(answer: Any) -> str:
    """A device's error, reject or abort answer as "class: code" text."""
    error_class = getattr(answer, "errorClass", None)
    error_code = getattr(answer, "errorCode", None)
    if error_class is not None and error_code is not None:
        return f"{error_class}: {error_code}"
    for reason in ("rejectReason", "abortReason"):
        if getattr(answer, reason, None) is not None:
            return str(getattr(answer, reason))
    return str(answer)


def _application(local_address: str) -> Application:
    """A BACnet/IP application bound to ``local_address`` (host:port)."""
    arguments = SimpleArgumentParser().parse_args(
        ["--address", local_address, "--instance", "4194302", "--name", "lot"]
    )
    return Application.from_args(arguments)
