"""A real ADS device for integration tests: pyads's test server, which speaks
ADS over TCP like a TwinCAT PLC, holding the variables the test declares::

    plc = AdsSimulator(("MAIN.Velocity", "LREAL"), ("MAIN.Count", "DINT"))
    plc.start()
    plc.set("MAIN.Count", 42)
    plc.get("MAIN.Velocity")
    plc.stop(); plc.start()       # values kept

ADS runs on port 48898, which the client library cannot be told otherwise,
so one simulator at a time listens on 127.0.0.1:48898 (tests of ADS run one
after the other).  pyads's server lets a request for a variable it does
not hold crash its handler; here it answers as a PLC does, with ADS error
1808 (symbol not found).
"""

from __future__ import annotations

import struct
import time
from typing import Any

import pyads
from pyads import constants
from pyads.testserver import (
    AdsTestServer,
    AdvancedHandler,
    AmsResponseData,
    PLCVariable,
)

__all__ = ["AdsSimulator"]

PORT = 48898
SYMBOL_NOT_FOUND = 1808
_TYPES = {
    "BOOL": (constants.ADST_BIT, 1, pyads.PLCTYPE_BOOL),
    "INT": (constants.ADST_INT16, 2, pyads.PLCTYPE_INT),
    "UINT": (constants.ADST_UINT16, 2, pyads.PLCTYPE_UINT),
    "DINT": (constants.ADST_INT32, 4, pyads.PLCTYPE_DINT),
    "UDINT": (constants.ADST_UINT32, 4, pyads.PLCTYPE_UDINT),
    "REAL": (constants.ADST_REAL32, 4, pyads.PLCTYPE_REAL),
    "LREAL": (constants.ADST_REAL64, 8, pyads.PLCTYPE_LREAL),
    "STRING": (constants.ADST_STRING, 81, pyads.PLCTYPE_STRING),
}


class _PlcLikeHandler(AdvancedHandler):
    """pyads's handler, answering 1808 for a variable it does not hold."""

    def handle_request(self, request: Any) -> Any:
        try:
            return super().handle_request(request)
        except KeyError:
            state = struct.unpack("<H", request.ams_header.state_flags)[0] | 1
            return AmsResponseData(
                struct.pack("<H", state), struct.pack("<I", SYMBOL_NOT_FOUND), b""
            )


class AdsSimulator:
    """One pyads test server that can be stopped and started."""

    host = "127.0.0.1"
    net_id = "127.0.0.1.1.1"
    ams_port = 851

    def __init__(self, *variables: tuple[str, str]) -> None:
        self.types = dict(variables)
        self.handler = _PlcLikeHandler()
        for name, data_type in variables:
            ads_type, size, _ = _TYPES[data_type]
            symbol = "STRING(80)" if data_type == "STRING" else data_type
            self.handler.add_variable(
                PLCVariable(name, bytes(size), ads_type=ads_type, symbol_type=symbol)
            )
        self._server: AdsTestServer | None = None
        self._client: Any = None

    def start(self) -> None:
        if self._server is not None:
            return
        server = AdsTestServer(
            handler=self.handler, logging=False, ip_address=self.host, port=PORT
        )
        server.start()
        deadline = time.monotonic() + 5
        while not server.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # the server thread binds after it starts
        self._server = server

    def stop(self) -> None:
        """Close the server and its connections, as a power cut would."""
        self._drop_client()
        if self._server is not None:
            self._server.stop()
            self._server.join(5)
            self._server = None

    def _plc(self) -> Any:
        if self._client is None:
            self._client = pyads.Connection(self.net_id, self.ams_port, self.host)
            self._client.open()
        return self._client

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def set(self, name: str, value: object) -> None:
        """Set a variable, as the PLC program would."""
        self._plc().write_by_name(name, value, _TYPES[self.types[name]][2])

    def get(self, name: str) -> Any:
        return self._plc().read_by_name(name, _TYPES[self.types[name]][2])

    def __enter__(self) -> AdsSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
