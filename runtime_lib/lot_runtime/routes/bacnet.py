"""The BACnet/IP route (BACNET) over bacpypes3.

``BacnetRoute`` reads the present value of each tag's object (``AI:0`` is
analog input 0) from one device every ``tag.every`` seconds, one
ReadProperty request per tag, and publishes it on the site broker.  A
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
from bacpypes3.basetypes import BinaryPV  # type: ignore[import-untyped]
from bacpypes3.primitivedata import Boolean, Double, Enumerated, Real  # type: ignore[import-untyped]

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

    @property
    def object_id(self) -> str:
        return f"{self.object_type},{self.instance}"


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
        self._address = ""

    def describe(self, resolved: Mapping[str, Setting]) -> str:
        return (
            f"BACnet device {resolved['device_id']} at "
            f"{resolved['host']}:{resolved['port']}"
        )

    async def connection(self, resolved: Mapping[str, Setting]) -> None:
        """Open the route's BACnet/IP port, find the device, then poll and
        write until a request goes unanswered."""
        self._address = f"{resolved['host']}:{resolved['port']}"
        app = _application(str(resolved["local_address"]))
        try:
            device = f"device,{int(str(resolved['device_id']))}"
            await self._request(app.read_property(self._address, device, "object-name"))
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
        async def step() -> None:
            for tag in tags:
                try:
                    value = await self._request(
                        app.read_property(self._address, tag.object_id, "present-value")
                    )
                except ErrorRejectAbortNack as answer:
                    self._warn(
                        tag, "refused", f"the device refuses to read it: {answer}"
                    )
                    continue
                self._publish(tag, value)

        await repeat(every, step)

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
                        self._address,
                        tag.object_id,
                        "present-value",
                        value,
                        priority=tag.priority,
                    )
                )
                back = await self._request(
                    app.read_property(self._address, tag.object_id, "present-value")
                )
            except ErrorRejectAbortNack as answer:
                self._warn(tag, "write", f"the device refused the write: {answer}")
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


def _application(local_address: str) -> Application:
    """A BACnet/IP application bound to ``local_address`` (host:port)."""
    arguments = SimpleArgumentParser().parse_args(
        ["--address", local_address, "--instance", "4194302", "--name", "lot"]
    )
    return Application.from_args(arguments)
