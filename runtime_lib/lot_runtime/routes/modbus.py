"""The Modbus route (MODBUS, MODBUS_TCP, MODBUS_SERIAL) over pymodbus.

``ModbusRoute`` polls its tags, each every ``tag.every`` seconds, and
publishes their values on the site broker; tags that share a period are read
together, in as few requests as ``registers.plan`` allows.  A writable tag
reads commands on its ``command_topic``: the text is converted to the tag's
type (scaling undone), written, read back, and the read-back value published.

When the device goes away the route says so once in the log and on its status
topic, retries with capped backoff (``devices.Backoff``), and carries on where
it was when the device answers again.  Commands that arrive during an outage
are dropped, not queued: a set-point written minutes late is worse than none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from . import Setting
from .devices import DeviceRoute, command_flag, repeat, tag_number, unscaled
from .registers import BIT_TABLES, Order, Span, decode, encode, plan, split, width

__all__ = ["ModbusRoute", "ModbusTag"]

log = logging.getLogger("lot")

_READ_ONLY = frozenset({"input_register", "discrete_input"})
_PARITY = {"NONE": "N", "EVEN": "E", "ODD": "O", "MARK": "M", "SPACE": "S"}


@dataclass(frozen=True, slots=True)
class ModbusTag:
    """One value on the device: zero-based ``address`` in ``table``."""

    name: str
    address: int
    topic: str
    table: str = "holding_register"
    data_type: str = "UINT16"
    length: int = 1  # registers of a STRING
    every: float = 1.0
    scaling: float = 1.0
    offset: float = 0.0
    deadband: float | None = None
    on_change: bool = False
    decimals: int | None = None
    writable: bool = False
    command_topic: str | None = None
    word_order: Order = "big"
    byte_order: Order = "big"

    @property
    def width(self) -> int:
        return width(self.data_type, self.length)


class ModbusRoute(DeviceRoute[ModbusTag]):
    """A Modbus TCP (``host``) or RTU (``serial_port``) device and its tags."""

    failures = (ModbusException, OSError, TimeoutError, ConnectionError)
    driver_loggers = ("pymodbus",)

    def __init__(
        self,
        *,
        name: str,
        tags: Sequence[ModbusTag],
        host: Setting = None,
        port: Setting = 502,
        unit_id: Setting = 1,
        serial_port: Setting = None,
        baud_rate: Setting = 9600,
        parity: Setting = "NONE",
        data_bits: Setting = 8,
        stop_bits: Setting = 1,
        timeout: float = 1.0,
        connect_timeout: float = 5.0,
    ) -> None:
        for tag in tags:
            if tag.writable and tag.table in _READ_ONLY:
                raise ValueError(f"tag {tag.name}: a {tag.table} cannot be written")
        settings: dict[str, Setting] = {
            "host": host,
            "port": port,
            "unit_id": unit_id,
            "serial_port": serial_port,
            "baud_rate": baud_rate,
            "parity": parity,
            "data_bits": data_bits,
            "stop_bits": stop_bits,
        }
        super().__init__(name, tags, settings)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._unit = 1

    def describe(self, resolved: Mapping[str, Setting]) -> str:
        if resolved["serial_port"]:
            return f"Modbus device {resolved['unit_id']} on {resolved['serial_port']}"
        return (
            f"Modbus device {resolved['unit_id']} at "
            f"{resolved['host']}:{resolved['port']}"
        )

    async def connection(self, resolved: Mapping[str, Setting]) -> None:
        """Connect, then poll and write until a request fails."""
        self._unit = int(str(resolved["unit_id"]))
        client = self._client(resolved)
        try:
            connected = await asyncio.wait_for(client.connect(), self.connect_timeout)
            if not connected:
                raise ConnectionError("connection refused or timed out")
            self.online()
            await self.serve(
                *(self._poll(client, every, tags) for every, tags in self.by_period()),
                self._write_loop(client),
            )
        finally:
            client.close()

    def _client(self, resolved: Mapping[str, Setting]) -> Any:
        if resolved["serial_port"]:
            return AsyncModbusSerialClient(
                str(resolved["serial_port"]),
                baudrate=int(str(resolved["baud_rate"])),
                parity=_PARITY.get(str(resolved["parity"]).upper(), "N"),
                bytesize=int(str(resolved["data_bits"])),
                stopbits=2 if str(resolved["stop_bits"]).upper() in ("2", "TWO") else 1,
                timeout=self.timeout,
                retries=0,
                reconnect_delay=0,
            )
        return AsyncModbusTcpClient(
            str(resolved["host"]),
            port=int(str(resolved["port"])),
            timeout=self.timeout,
            retries=0,
            reconnect_delay=0,
        )

    async def _poll(self, client: Any, every: float, tags: list[ModbusTag]) -> None:
        """Read ``tags`` every ``every`` seconds."""
        spans = plan(tags)

        async def step() -> None:
            nonlocal spans
            for span in list(spans):
                answer = await self._read(client, span.table, span.start, span.count)
                if answer is None:
                    spans = self._refused(span, spans)
                    continue
                for tag in span.tags:
                    self._publish(tag, span.words(tag, answer))

        await repeat(every, step)

    async def _read(
        self, client: Any, table: str, start: int, count: int
    ) -> list[int] | None:
        """Register words (bits as 0/1) of one request; None when the device
        answers with a Modbus exception."""
        read = {
            "coil": client.read_coils,
            "discrete_input": client.read_discrete_inputs,
            "input_register": client.read_input_registers,
            "holding_register": client.read_holding_registers,
        }[table]
        response = await read(start, count=count, device_id=self._unit)
        if response.isError():
            return None
        if table in BIT_TABLES:
            return [int(bit) for bit in response.bits[:count]]
        return list(response.registers)

    def _refused(
        self, span: Span[ModbusTag], spans: list[Span[ModbusTag]]
    ) -> list[Span[ModbusTag]]:
        """A read the device refused: read a joined span tag by tag from now
        on; a single tag is reported once and stays in the plan."""
        if len(span.tags) > 1:
            log.warning(
                "route %s: the device refused one read of %d tags at %s %d; "
                "reading them one by one",
                self.name,
                len(span.tags),
                span.table,
                span.start,
            )
            index = spans.index(span)
            return spans[:index] + split(span) + spans[index + 1 :]
        self._warn(span.tags[0], "refused", "the device refuses to read it")
        return spans

    def _publish(
        self, tag: ModbusTag, words: Sequence[int], force: bool = False
    ) -> None:
        raw = decode(
            words, tag.data_type, word_order=tag.word_order, byte_order=tag.byte_order
        )
        value = (
            raw
            if isinstance(raw, bool | str)
            else tag_number(tag, raw, float32=tag.data_type == "FLOAT32")
        )
        self.publish_value(tag, value, force)

    # -- writes

    async def _write_loop(self, client: Any) -> None:
        while True:
            tag, payload = await self._commands.queue.get()
            try:
                words = command_words(tag, payload)
            except ValueError as exc:
                self._warn(tag, "bad", f"command ignored: {exc}")
                continue
            if tag.table == "coil":
                response = await client.write_coil(
                    tag.address, bool(words[0]), device_id=self._unit
                )
            elif len(words) == 1:
                response = await client.write_register(
                    tag.address, words[0], device_id=self._unit
                )
            else:
                response = await client.write_registers(
                    tag.address, words, device_id=self._unit
                )
            if response.isError():
                self._warn(tag, "write", "the device refused the write")
                continue
            back = await self._read(client, tag.table, tag.address, tag.width)
            if back is None or list(back[: tag.width]) != words:
                self._warn(tag, "confirm", "the write was not confirmed by a read")
            if back is not None:
                self._publish(tag, back[: tag.width], force=True)
            log.debug("route %s: wrote tag %s", self.name, tag.name)


def command_words(tag: ModbusTag, payload: bytes) -> list[int]:
    """The register words (or bit) a command payload asks ``tag`` to hold:
    BOOL takes true/false/1/0/on/off, STRING its text, numbers are unscaled
    (``(value - offset) / scaling``) and rounded for integer types."""
    text = payload.decode("utf-8", errors="replace").strip()
    if tag.data_type == "BOOL" or tag.table == "coil":
        return [1 if command_flag(text) else 0]
    if tag.data_type == "STRING":
        return encode(text, "STRING", byte_order=tag.byte_order, length=tag.length)
    raw = unscaled(tag, tag.data_type, text)
    return encode(
        raw,
        tag.data_type,
        word_order=tag.word_order,
        byte_order=tag.byte_order,
        length=tag.length,
    )
