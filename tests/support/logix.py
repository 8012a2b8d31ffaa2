"""A real EtherNet/IP controller for integration tests: cpppo's Logix
simulator, in a process of its own on a free port.

cpppo answers the CIP services a Logix controller answers (register
session, forward open, Read Tag, Write Tag, Multiple Service) for the tags
it is started with, ``name=TYPE`` or ``name=TYPE[count]``.  The test sets
and reads values over a connection of its own::

    plc = LogixSimulator("CaseCount=DINT", "Speed=REAL")
    plc.start()
    plc.set("CaseCount", 42)
    plc.get("Speed")
    plc.stop(); plc.start()        # same port; values start at zero again

Stopping kills the process, so the route sees what it sees when a
controller loses power.

cpppo is not a perfect Logix: it answers a request for a CIP instance it
does not have with a bare encapsulation error and then drops the session,
where a controller answers with a CIP status; tests stay on objects it has.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from typing import Any

from pylogix import PLC

from .mosquitto import free_port

__all__ = ["LogixSimulator"]


class LogixSimulator:
    """One cpppo EtherNet/IP server that can be stopped and started."""

    host = "127.0.0.1"

    def __init__(self, *tags: str, port: int | None = None) -> None:
        self.tags = tags
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._client: Any = None

    def start(self, timeout: float = 20.0) -> None:
        if self._process is not None:
            return
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cpppo.server.enip",
                "--no-config",
                "--no-udp",
                "--address",
                f"{self.host}:{self.port}",
                *self.tags,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = self._process.stderr.read() if self._process.stderr else b""
                self._process = None
                raise RuntimeError(f"cpppo did not start: {error.decode()[-2000:]}")
            try:
                socket.create_connection((self.host, self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"cpppo did not listen on port {self.port}")

    def stop(self) -> None:
        """Kill the server, dropping every connection, as a power cut would."""
        self._drop_client()
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)
            if self._process.stderr:
                self._process.stderr.close()
            self._process = None

    def _plc(self) -> Any:
        if self._client is None:
            self._client = PLC(self.host, port=self.port)
            self._client.SocketTimeout = 5.0
        return self._client

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.Close()
            self._client = None

    def set(self, tag: str, value: object) -> None:
        """Set a tag, as the controller's program would."""
        reply = self._plc().Write(tag, value)
        if reply.Status != "Success":
            raise RuntimeError(f"cannot set {tag}: {reply.Status}")

    def get(self, tag: str) -> Any:
        reply = self._plc().Read(tag)
        if reply.Status != "Success":
            raise RuntimeError(f"cannot read {tag}: {reply.Status}")
        return reply.Value

    def __enter__(self) -> LogixSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
