"""TLS with the bridge's own options (CA, client certificate, untrusted
servers) in front of a connection layer that only knows the system defaults.

`TlsTunnel` listens on a loopback port; each connection made to it is
carried to the broker over TLS built from `tls_context`.  Only sockets of
this very process may use it (checked in /proc on Linux), so another local
program cannot borrow the bridge's client certificate.  It goes away once
`lot_runtime.mqtt.ConnectionSettings` takes an `ssl.SSLContext`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from pathlib import Path

__all__ = ["TlsTunnel", "tls_context"]

log = logging.getLogger("lot")

_BUFFER = 1 << 16


def tls_context(
    *, ca: str, certificate: str, password: str, untrusted: bool
) -> ssl.SSLContext:
    """A client context: `ca` (PEM file) trusted besides the system's, a PEM
    client certificate with its key (the key may be encrypted with
    `password`), and with `untrusted` no server check at all."""
    context = ssl.create_default_context(cafile=ca or None)
    if untrusted:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if certificate:
        context.load_cert_chain(certificate, password=password or None)
    return context


class TlsTunnel:
    """A loopback listener whose connections continue to host:port over TLS."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext) -> None:
        self.host, self.port, self.context = host, port, context
        self._server: asyncio.Server | None = None
        self._failures: set[str] = set()

    async def start(self) -> int:
        """Listen; the loopback port to connect to instead of the broker."""
        self._server = await asyncio.start_server(self._carry, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _carry(
        self, local_reader: asyncio.StreamReader, local_writer: asyncio.StreamWriter
    ) -> None:
        peer_port = local_writer.get_extra_info("peername")[1]
        if not _own_socket(peer_port):
            log.warning("TLS tunnel: refused a connection from another process")
            local_writer.close()
            return
        try:
            hostname = self.host if self.context.check_hostname else None
            remote_reader, remote_writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.context, server_hostname=hostname
            )
        except (OSError, ssl.SSLError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if reason not in self._failures:
                self._failures.add(reason)
                log.warning("TLS to %s:%d failed: %s", self.host, self.port, reason)
            local_writer.close()
            return
        self._failures.clear()
        await asyncio.gather(
            _pipe(local_reader, remote_writer), _pipe(remote_reader, local_writer)
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_BUFFER):
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _own_socket(port: int) -> bool:
    """True when a TCP socket of this process has local port `port` (Linux;
    elsewhere, without /proc, every loopback connection is accepted)."""
    proc = Path("/proc/self/fd")
    if not proc.is_dir():
        return True
    inodes = set()
    for fd in os.listdir(proc):
        with contextlib.suppress(OSError):
            link = os.readlink(proc / fd)
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as file:
            next(file, None)
            for line in file:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[9] in inodes:
                    return True
    return False
