"""A real pymodbus TCP server for integration tests, on a free loopback port.

The server runs on its own event loop in a thread; the test reads and writes
its datastore directly::

    device = ModbusSimulator()           # unit 3 answers like any other unit
    device.start()
    device.write("holding_register", 10, [0x41AD, 0x999A])
    device.read("holding_register", 10, 2)   # [16813, 39322]
    device.stop(); device.start()        # same port, datastore reset to zero

Every table (coils, discrete inputs, input and holding registers) holds
``size`` entries from address 0; reads past them are refused with a Modbus
exception, as a real device refuses an address it does not have.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simutils import DataType

from .mosquitto import free_port

__all__ = ["ModbusSimulator"]

# Function codes that reach each table through the server's datastore.
_READ = {"coil": 1, "discrete_input": 2, "holding_register": 3, "input_register": 4}
_WRITE = {"coil": 15, "discrete_input": 2, "holding_register": 16, "input_register": 4}


class ModbusSimulator:
    """One pymodbus server that can be stopped and started on its port."""

    host = "127.0.0.1"

    def __init__(self, port: int | None = None, size: int = 1024) -> None:
        self.port = port or free_port()
        self.size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: ModbusTcpServer | None = None
        self.requests = 0  # requests answered since the last start

    def _count(self, sending: bool, pdu: Any) -> Any:
        if not sending:
            self.requests += 1
        return pdu

    def _device(self) -> SimDevice:
        bits = SimData(0, count=self.size, values=False, datatype=DataType.BITS)
        words = SimData(0, count=self.size, values=0, datatype=DataType.REGISTERS)
        return SimDevice(
            id=0,
            simdata=(
                [bits],
                [SimData(0, count=self.size, values=False, datatype=DataType.BITS)],
                [words],
                [SimData(0, count=self.size, values=0, datatype=DataType.REGISTERS)],
            ),
        )

    def start(self) -> None:
        if self._thread is not None:
            return
        ready = threading.Event()
        self.requests = 0
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            self._server = ModbusTcpServer(
                self._device(), address=(self.host, self.port), trace_pdu=self._count
            )
            await self._server.serve_forever(background=True)
            ready.set()

        def main() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.create_task(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError(f"the Modbus simulator did not listen on {self.port}")

    def stop(self) -> None:
        """Close the server and every client connection, as a power cut would."""
        if self._thread is None or self._loop is None:
            return
        if self._server is not None:
            self._call(self._server.shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
        self._thread = self._loop = self._server = None

    def _call(self, work: Coroutine[Any, Any, Any]) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(5)

    def write(self, table: str, address: int, values: Sequence[int | bool]) -> None:
        """Set registers (or bits) in the datastore, as the device itself would."""
        assert self._server is not None, "the simulator is not running"
        code = _WRITE[table]
        if table in ("coil", "discrete_input"):
            values = [bool(v) for v in values]
        self._call(self._server.async_setValues(1, code, address, list(values)))

    def read(self, table: str, address: int, count: int = 1) -> list[int]:
        assert self._server is not None, "the simulator is not running"
        found = self._call(
            self._server.async_getValues(1, _READ[table], address, count)
        )
        return [int(v) for v in found]

    def __enter__(self) -> ModbusSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
