"""The Beckhoff TwinCAT route (ADS) over pyads.

``AdsRoute`` reads PLC variables by their symbol names (``MAIN.Velocity``,
``GVL.Line.Count``) from the ADS device ``net_id``:``ams_port`` (851, the
first PLC runtime of TwinCAT 3) at ``host`` every ``tag.every`` seconds and
publishes their values on the site broker.  The variables of one period are
read with one ADS sum request (``read_list_by_name``); a STRING is read on
its own.  The PLC's symbol information gives each variable's type, so the
declared ``data_type`` decides only how commands are converted.  A writable
tag reads commands on its ``command_topic``: the text is converted to the
tag's type (scaling undone, range checked), written, read back, and the
read-back value published.

pyads blocks, so each route runs it on one worker thread of its own.  An
ADS error that names one variable (a symbol the PLC does not have, 1808) is
logged once for its tag, and a sum read that fails is read variable by
variable from then on; any other failure (no answer, a timeout, a closed
port) is an outage: logged once, shown on the status topic, retried with
capped backoff as in every device route.

The PLC must know this device: an ADS route on the PLC for the device's
AMS net id (``local_net_id``; by default the device's IPv4 address + ``.1.1``
as pyads makes it) and address.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

# pyads ships no type information.
import pyads  # type: ignore[import-untyped]

from . import Setting
from .devices import DeviceRoute, repeat, tag_number, typed_command

__all__ = ["AdsRoute", "AdsTag", "SYMBOL_NOT_FOUND"]

log = logging.getLogger("lot")

SYMBOL_NOT_FOUND = 1808  # ADSERR_DEVICE_SYMBOLNOTFOUND
# Device errors that concern one variable, not the link (0x700-0x7FF but
# the timeouts and the closed ports).
_VARIABLE_ERRORS = frozenset(range(0x700, 0x745)) - {0x718}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AdsTag:
    """One PLC variable, by its symbol name."""

    name: str
    address: str  # the symbol, as ``MAIN.Velocity``
    topic: str
    data_type: str = "DINT"
    length: int = 80  # characters of a STRING (TwinCAT's default)
    every: float = 1.0
    scaling: float = 1.0
    offset: float = 0.0
    deadband: float | None = None
    on_change: bool = False
    decimals: int | None = None
    writable: bool = False
    command_topic: str | None = None


class AdsRoute(DeviceRoute[AdsTag]):
    """A TwinCAT PLC and its variables; see the module docstring."""

    device = "PLC"
    driver_loggers = ("pyads",)
    failures = (pyads.ADSError, OSError, TimeoutError)

    def __init__(
        self,
        *,
        name: str,
        tags: Sequence[AdsTag],
        net_id: Setting,
        host: Setting = None,
        ams_port: Setting = 851,
        local_net_id: Setting = None,
        timeout: float = 5.0,
    ) -> None:
        settings = {
            "net_id": net_id,
            "host": host,
            "ams_port": ams_port,
            "local_net_id": local_net_id,
        }
        super().__init__(name, tags, settings)
        self.timeout = timeout
        self._alone: set[str] = set()  # tags read on their own

    def describe(self, resolved: Mapping[str, Setting]) -> str:
        where = f"{resolved['net_id']}:{resolved['ams_port']}"
        return f"ADS device {where} at {_host(resolved)}"

    async def connection(self, resolved: Mapping[str, Setting]) -> None:
        """Open the ADS port, then poll and write until the link fails."""
        if resolved["local_net_id"]:
            pyads.set_local_address(str(resolved["local_net_id"]))
        plc = pyads.Connection(
            str(resolved["net_id"]), int(str(resolved["ams_port"])), _host(resolved)
        )
        worker = ThreadPoolExecutor(1, thread_name_prefix=f"ads-{self.name}")
        try:
            await self._call(worker, plc.open)
            await self._call(worker, plc.set_timeout, int(self.timeout * 1000))
            await self._call(worker, plc.read_state)
            self.online()
            await self.serve(
                *(
                    self._poll(worker, plc, every, tags)
                    for every, tags in self.by_period()
                ),
                self._write_loop(worker, plc),
            )
        finally:
            worker.submit(_close, plc)
            worker.shutdown(wait=False)

    async def _call(
        self, worker: ThreadPoolExecutor, request: Callable[..., T], *arguments: Any
    ) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(worker, request, *arguments)

    async def _poll(
        self, worker: ThreadPoolExecutor, plc: Any, every: float, tags: list[AdsTag]
    ) -> None:
        """Read ``tags`` every ``every`` seconds."""

        async def step() -> None:
            batch = [
                t for t in tags if t.data_type != "STRING" and t.name not in self._alone
            ]
            if len(batch) > 1:
                names = [t.address for t in batch]
                try:
                    found = await self._call(worker, plc.read_list_by_name, names)
                except pyads.ADSError as exc:
                    if not _about_a_variable(exc):
                        raise
                    log.warning(
                        "route %s: the PLC refused a sum read of %d variables "
                        "(%s); reading them one by one",
                        self.name,
                        len(batch),
                        exc,
                    )
                    self._alone |= {t.name for t in batch}
                    batch = []
                else:
                    for tag in batch:
                        self._publish(tag, found.get(tag.address))
            else:
                batch = []
            for tag in tags:
                if tag in batch:
                    continue
                try:
                    raw = await self._call(worker, plc.read_by_name, tag.address)
                except pyads.ADSError as exc:
                    if not _about_a_variable(exc):
                        raise
                    self._warn(tag, "read", f"the PLC refuses to read it: {exc}")
                    continue
                self._publish(tag, raw)

        await repeat(every, step)

    def _publish(self, tag: AdsTag, raw: Any, force: bool = False) -> None:
        if raw is None:
            self._warn(tag, "read", "the PLC gave no value for it")
            return
        if isinstance(raw, bytes | bytearray | list | dict):
            self._warn(tag, "shape", "it is a structure or an array: name a member")
            return
        value: object = raw
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            value = tag_number(tag, raw, float32=tag.data_type == "REAL")
        self.publish_value(tag, value, force)

    # -- writes

    async def _write_loop(self, worker: ThreadPoolExecutor, plc: Any) -> None:
        while True:
            tag, payload = await self._commands.queue.get()
            try:
                value = typed_command(tag, payload)
            except ValueError as exc:
                self._warn(tag, "bad", f"command ignored: {exc}")
                continue
            try:
                await self._call(worker, plc.write_by_name, tag.address, value)
                back = await self._call(worker, plc.read_by_name, tag.address)
            except pyads.ADSError as exc:
                if not _about_a_variable(exc):
                    raise
                self._warn(tag, "write", f"the PLC refused the write: {exc}")
                continue
            self._publish(tag, back, force=True)
            log.debug("route %s: wrote tag %s", self.name, tag.name)


def _about_a_variable(exc: Exception) -> bool:
    return getattr(exc, "err_code", None) in _VARIABLE_ERRORS


def _host(resolved: Mapping[str, Setting]) -> str:
    """The PLC's address: ``host``, else the net id's first four numbers,
    which TwinCAT makes from the PLC's address by default."""
    if resolved["host"]:
        return str(resolved["host"])
    return ".".join(str(resolved["net_id"]).split(".")[:4])


def _close(plc: Any) -> None:
    """Close the ADS port; a failure to do so changes nothing."""
    try:
        plc.close()
    except Exception:  # noqa: BLE001 - the link may already be gone
        log.debug("ADS close failed", exc_info=True)
