"""One TCP (or TLS) link to the broker: MQTT v5 frames on an asyncio.Protocol.

`Link` turns bytes into packets with the `mqtt5` codec (Rust, sans-I/O) and
hands them to its `Session` (the `Connection` that owns the link) in batches:
everything one read delivered is decoded first, then the session handles the
batch and answers with a single `transport.write`. No task, no future and no
event-loop turn is spent per message.  Reads go into one buffer the link
keeps (`asyncio.BufferedProtocol`): a plain Protocol would have asyncio
allocate, shrink and free a 256 KiB object for every read, three system
calls that cost more than the read itself.

A link lives from the TCP connect to the first error; the session opens a new
one to reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Protocol

import mqtt5

__all__ = ["Link", "LinkError", "Session"]

log = logging.getLogger("lot")

READ_BUFFER = 1 << 18  # bytes one read can take, as asyncio's own default
# Asyncio buffers what a write could not send at once; above this many bytes
# it asks the session to stop writing until the socket has drained.
WRITE_HIGH_WATER = 1 << 20
# While a backlog drains, the link rests this long after a large read when
# the session allows it, so that each read and each write carries more
# messages (a paced stream has small reads and never waits).
REST = 0.002  # seconds


class LinkError(Exception):
    """The link failed or the broker refused or ended the conversation."""


class Session(Protocol):
    """What a link reports to: the connection that owns the session state."""

    def packets(self, link: Link, batch: list[mqtt5.Packet]) -> bool: ...

    def writable(self, link: Link) -> None: ...


class Link(asyncio.BufferedProtocol):
    """An MQTT v5 byte stream: decode reads, batch writes, report the end."""

    def __init__(self, session: Session) -> None:
        self._session = session
        # Reads land here, so no read allocates: a partial frame at the
        # end of one read is moved to the start for the next.
        self._buffer = bytearray(READ_BUFFER)
        self._filled = 0  # bytes at the start: a partial frame
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.write_paused = False
        self.read_paused = False
        self.heard = False  # bytes arrived since the keep-alive last looked
        self._resting = False

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Each batch goes out at once: Nagle would hold a reply back
            # until the broker acknowledged the previous segment.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.closed.done():
            if exc is None:
                self.closed.set_exception(LinkError("the broker closed the connection"))
            else:
                self.closed.set_exception(LinkError(f"the link failed: {exc}"))
        # Nobody may be awaiting `closed` when the link ends on purpose.
        self.closed.exception()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._session.writable(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the next read goes: after the partial frame kept from the
        last one (a frame larger than the buffer makes it grow)."""
        if self._filled == len(self._buffer):
            bigger = bytearray(2 * len(self._buffer))
            bigger[: self._filled] = self._buffer
            self._buffer = bigger
        return memoryview(self._buffer)[self._filled :]

    def buffer_updated(self, nbytes: int) -> None:
        end = self._filled + nbytes
        batch: list[mqtt5.Packet] = []
        read = mqtt5.read
        position = 0
        with memoryview(self._buffer) as view:
            try:
                while position < end:
                    try:
                        packet, used = read(view[position:end])
                    except IndexError:  # a partial frame: the rest comes later
                        break
                    batch.append(packet)
                    position += used
            except ValueError as exc:
                self.fail(f"the broker sent a malformed packet: {exc}")
                return
        if position < end:
            self._buffer[: end - position] = self._buffer[position:end]
        self._filled = end - position
        if batch and self._session.packets(self, batch):
            self._rest()

    # -- used by the session

    def write(self, frames: list[bytes]) -> None:
        """Send frames in one write; nothing happens once the link is down."""
        if self.transport is not None and frames:
            self.transport.write(b"".join(frames))

    def pause_reading(self) -> None:
        if self.transport is not None and not self.read_paused:
            self.read_paused = True
            if not self._resting:
                self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and self.read_paused:
            self.read_paused = False
            if not self._resting:
                self.transport.resume_reading()

    def _rest(self) -> None:
        if self.transport is None or self._resting or self.read_paused:
            return
        self._resting = True
        self.transport.pause_reading()
        asyncio.get_running_loop().call_later(REST, self._wake)

    def _wake(self) -> None:
        self._resting = False
        if self.transport is not None and not self.read_paused:
            self.transport.resume_reading()

    def fail(self, reason: str) -> None:
        """End the link because of `reason` (what `closed` will raise)."""
        if not self.closed.done():
            self.closed.set_exception(LinkError(reason))
        self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_link(
    session: Session,
    host: str,
    port: int,
    *,
    tls: bool | ssl.SSLContext,
    timeout: float,
) -> Link:
    """Open the TCP (and TLS) connection; MQTT has not started yet.

    `tls` is False, True for the system's defaults, or the context to use.
    """
    loop = asyncio.get_running_loop()
    context: ssl.SSLContext | None = None
    if isinstance(tls, ssl.SSLContext):
        context = tls
    elif tls:
        context = ssl.create_default_context()
    try:
        _, link = await asyncio.wait_for(
            loop.create_connection(
                lambda: Link(session),
                host,
                port,
                ssl=context,
                server_hostname=host if context is not None else None,
            ),
            timeout,
        )
    except (OSError, TimeoutError) as exc:
        raise LinkError(f"cannot connect: {exc or type(exc).__name__}") from exc
    return link
