"""A real S7 server (python-snap7's) for integration tests, on a free port.

The server speaks ISO-on-TCP and S7 like a PLC and serves memory areas the
test owns: data blocks 1 and 2, the flags, the inputs and the outputs, each
``size`` bytes.  The test reads and writes them directly::

    plc = S7Simulator()
    plc.start()
    plc.write("DB", 1, 8, struct.pack(">f", 21.7))
    plc.read("DB", 1, 8, 4)
    plc.stop(); plc.start()        # same port, memory kept

A read past an area's end, or of a data block that does not exist, is
refused as a PLC refuses it.
"""

from __future__ import annotations

import logging
import threading

from snap7.server import Server, SrvArea

from .mosquitto import free_port

__all__ = ["S7Simulator"]

_AREAS = {"DB": SrvArea.DB, "M": SrvArea.MK, "I": SrvArea.PE, "Q": SrvArea.PA}


class S7Simulator:
    """One snap7 server that can be stopped and started on its port."""

    host = "127.0.0.1"

    def __init__(self, port: int | None = None, size: int = 1024) -> None:
        self.port = port or free_port()
        self.memory = {
            ("DB", 1): bytearray(size),
            ("DB", 2): bytearray(size),
            ("M", 0): bytearray(size),
            ("I", 0): bytearray(size),
            ("Q", 0): bytearray(size),
        }
        self.reads = 0  # read requests answered since the last start
        self._lock = threading.Lock()
        self._server: Server | None = None
        logging.getLogger("snap7").setLevel(logging.ERROR)

    def _counted(self, event: object) -> None:
        with self._lock:
            self.reads += 1

    def start(self) -> None:
        if self._server is not None:
            return
        server = Server(log=False)
        for (area, number), data in self.memory.items():
            server.register_area(_AREAS[area], number, data)
        server.set_read_events_callback(self._counted)
        self.reads = 0
        server.start_to(self.host, self.port)
        self._server = server

    def stop(self) -> None:
        """Stop listening and drop every client, as a power cut would."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def write(self, area: str, number: int, start: int, data: bytes) -> None:
        """Set bytes of an area, as the PLC program itself would."""
        self.memory[(area, number)][start : start + len(data)] = data

    def read(self, area: str, number: int, start: int, count: int) -> bytes:
        return bytes(self.memory[(area, number)][start : start + count])

    def __enter__(self) -> S7Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
