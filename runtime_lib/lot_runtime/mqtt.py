"""The site's MQTT connection, behind a narrow interface (`Connection`).

Generated code never sees the client layer: the runner gives a `Connection`
the filters to subscribe, a synchronous message handler (topic, payload and
the message's retain flag), a ready callback and, optionally, a callback
run after the handlers of a read and before their acknowledgements are
written (where routes write down what they buffered), sends with `send()`
(never blocking), and awaits `run()`. The runtime owns
the data path: MQTT v5 framed by the `mqtt5` codec on an `asyncio.Protocol`
(`lot_runtime.link`), with a persistent session that survives reconnects.

Guarantees:
- handlers run inline, in arrival order, for every message one read brought;
  the acknowledgements and publishes they cause leave in one write, with no
  task and no wait per message;
- a QoS 1 message is acknowledged only after its handler returned, or,
  when the handler called `defer()`, only once the ticket it got is
  released (a bridge acknowledges a message once the other broker has it);
  acknowledgements leave in the order the messages came;
- `send(..., on_done=f)` calls `f(True)` once the broker answered a QoS 1
  message (`f(False)` if the link dropped first: such a message is not
  sent again by the connection, its sender decides);
- subscriptions ask for Retain As Published, so the retain flag a handler
  gets is the publisher's on live messages too, not only on the retained
  messages a new subscription brings;
- outgoing messages wait in a bounded outbox and at most `window` QoS 1
  messages are unconfirmed (the broker's Receive Maximum, capped at
  `MAX_INFLIGHT`); while the outbox is full no new message is handled, and
  reading stops unless confirmations are still due on the socket;
- messages not confirmed when the link drops are sent again, in order, after
  reconnecting (at least once); unacknowledged input comes again from the
  broker's session;
- after every SUBACK the retained status `online` is published; the will is
  `offline`; a stop flushes the outbox and publishes `offline` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import mqtt5

from .link import Link, LinkError, open_link
from .topics import publishable

__all__ = ["BrokerAddress", "Connection", "ConnectionSettings", "Done", "Ticket"]

log = logging.getLogger("lot")

OUTBOX_CAPACITY = 10_000  # messages waiting to be sent
HELD_CAPACITY = 10_000  # received messages waiting for room in the outbox
MAX_INFLIGHT = 1_000  # unconfirmed QoS 1 messages we send; < 65,535 ids
RECEIVE_MAXIMUM = 100  # unconfirmed QoS 1 messages the broker may send us
# What a site says once when its broker takes less than it asks for.
_NO_RETAIN = "the broker keeps no retained messages: the status is not retained"
_QOS0_ONLY = "the broker takes QoS 0 only: messages may be lost on the way"
MAX_PACKET = 268_435_455  # bytes: the largest packet MQTT can frame
_PUBLISH_OVERHEAD = 16  # fixed header, topic length, packet id, properties
SESSION_EXPIRY = 24 * 3600  # seconds the broker keeps our session offline
KEEP_ALIVE = 60  # seconds
# Reconnect delays: 0.5 s doubling to 8 s (times a random factor in
# [0.5, 1]): a broker back after a 10 s outage is found within 8 s.
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 8.0
CONNECT_TIMEOUT = 10.0
FLUSH_TIMEOUT = 10.0
REST_AFTER = 16  # packets in one read that show a backlog to drain

_PINGREQ = mqtt5.PingReqPacket().write()
_QOS0 = mqtt5.QoS.AT_MOST_ONCE
_QOS1 = mqtt5.QoS.AT_LEAST_ONCE
_T = TypeVar("_T")

# Told whether the broker answered an outgoing message (False: the link
# dropped before it did).
Done = Callable[[bool], None]
# An outgoing message: (topic, payload, qos, retain, on_done).
_Outgoing = tuple[str, bytes, int, bool, Done | None]
# A received message waiting to be handled: (topic, payload, retain, packet
# id), the packet id 0 for QoS 0.
_Held = tuple[str, bytes, bool, int]


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is: parsed from mqtt://[user[:password]@]host[:port]."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:
        """The address for logs: never the password."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """How to reach the broker and who to be there.

    `tls_context` replaces the system defaults for an `mqtts` broker (a CA
    file, a client certificate, no server check); it needs `broker.tls`, so
    that the address in the logs always says when TLS is on.
    """

    broker: BrokerAddress
    client_id: str
    status_topic: str
    qos: int = 1
    clean_start: bool = False
    tls_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        if self.tls_context is not None and not self.broker.tls:
            raise ValueError("a TLS context needs a broker address with TLS on")


class Ticket:
    """A received QoS 1 message whose acknowledgement waits for `release`:
    once per `defer` that handed it out."""

    __slots__ = ("done", "holds", "link", "packet_id")

    def __init__(self, packet_id: int, link: Link | None, done: bool = False):
        self.packet_id = packet_id
        self.link = link  # the link it came on: a ticket dies with its link
        self.done = done
        self.holds = 0


def _puback(packet_id: int) -> bytes:
    # Reason "success" without properties may be left out (MQTT 5, 3.4.2.1).
    return b"\x40\x02" + packet_id.to_bytes(2, "big")


class Connection:
    """One logical MQTT session that survives broker restarts."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        filters: Sequence[str],
        on_message: Callable[[str, bytes, bool], None],
        on_ready: Callable[[], None] = lambda: None,
        before_acknowledging: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self._filters = tuple(filters)
        self._on_message = on_message
        self._on_ready = on_ready
        self._before_acknowledging = before_acknowledging
        self._outbox: deque[_Outgoing] = deque()
        self._refused_topics: set[str] = set()  # warned of once each
        self._inflight: dict[int, _Outgoing] = {}  # by packet id, in send order
        self._held: deque[_Held] = deque()
        # Acknowledgements waiting for a deferred one before them, in the
        # order their messages came; the packet id being handled now.
        self._acks: deque[Ticket] = deque()
        self._ack_frames: list[bytes] = []
        self._handling_id = 0
        self._deferred: Ticket | None = None
        self._window = MAX_INFLIGHT
        self._keep_alive = KEEP_ALIVE
        # The largest packet the broker takes: MQTT's own limit until its
        # CONNACK says less.
        self._max_packet = MAX_PACKET
        # What the broker supports, as it said (or refused) when we connected.
        self._retain_ok = True
        self._max_qos = 1
        self._last_id = 0
        self._link: Link | None = None  # set while the session is up
        self._connack: asyncio.Future[mqtt5.ConnAckPacket] | None = None
        self._subacks: dict[int, asyncio.Future[mqtt5.SubAckPacket]] = {}
        self._drained: asyncio.Future[None] | None = None
        self._handling = True  # False while stopping: input waits for the broker
        self._in_batch = False
        self._flush_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failures: set[str] = set()
        self._ready_once = False
        self.connected = False
        self.online = False  # subscribed and `online` published

    # -- sending (synchronous, from handlers, timers and routes)

    def send(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        on_done: Done | None = None,
    ) -> None:
        """Queue a message; it is sent as soon as the connection allows.

        With `on_done`, the message is the sender's to keep until the broker
        answered it: `on_done(True)` then (at QoS 0: once written), or
        `on_done(False)` when the link dropped first, in which case the
        connection does not send it again.
        """
        size = len(payload) + len(topic) * 4 + _PUBLISH_OVERHEAD
        if not publishable(topic) or (
            size > self._max_packet
            and len(payload) + len(topic.encode()) + _PUBLISH_OVERHEAD
            > self._max_packet
        ):
            # A broker drops a client that publishes such a message, and
            # the message would be sent again after every reconnect.
            if topic not in self._refused_topics and len(self._refused_topics) < 100:
                self._refused_topics.add(topic)
                why = (
                    "which is not one topic"
                    if not publishable(topic)
                    else f"larger than the {self._max_packet} bytes the broker takes"
                )
                log.warning("dropped a message for %r, %s", topic, why)
            if on_done is not None:
                on_done(True)  # settled: it can never be sent
            return
        if qos > self._max_qos or (retain and not self._retain_ok):
            qos, retain = min(qos, self._max_qos), retain and self._retain_ok
        self._outbox.append((topic, payload, qos, retain, on_done))
        self._kick()

    def defer(self) -> Ticket | None:
        """Called by a message handler: hold this message's acknowledgement
        until `release(ticket)`.  None for a QoS 0 message (nothing to hold)
        or outside a handler."""
        if not self._handling_id:
            return None
        ticket = self._deferred
        if ticket is None:
            ticket = self._deferred = Ticket(self._handling_id, self._link)
        ticket.holds += 1
        return ticket

    def release(self, ticket: Ticket) -> None:
        """Acknowledge a deferred message, after those that came before it.

        A ticket of a link that has since dropped is ignored: the broker
        sends that message again on the new one.
        """
        ticket.holds -= 1
        if ticket.holds > 0:
            return
        ticket.done = True
        acks = self._acks
        if ticket.link is not self._link or not acks or not acks[0].done:
            return
        frames = self._ack_frames
        while acks and acks[0].done:
            frames.append(_puback(acks.popleft().packet_id))
        self._kick()

    def _kick(self) -> None:
        if self._in_batch or self._flush_pending or self._link is None:
            return  # the batch in hand, or the reconnect, sends it
        assert self._loop is not None
        self._flush_pending = True
        self._loop.call_soon(self._flush_soon)

    def _acknowledge(self, packet_id: int, frames: list[bytes]) -> None:
        """After a handler returned: acknowledge now, or queue behind (or as)
        a deferred acknowledgement."""
        ticket, self._deferred = self._deferred, None
        if ticket is None:
            if not self._acks:
                frames.append(_puback(packet_id))
                return
            ticket = Ticket(packet_id, self._link, done=True)
        acks = self._acks
        acks.append(ticket)
        while acks and acks[0].done:  # released while it was being handled
            frames.append(_puback(acks.popleft().packet_id))

    @property
    def pending(self) -> int:
        """Messages queued or sent but not yet confirmed."""
        return len(self._outbox) + len(self._inflight)

    # -- what the link reports (lot_runtime.link.Session)

    def packets(self, link: Link, batch: list[mqtt5.Packet]) -> bool:
        """Handle every packet of one read, then answer in one write.

        True when the link may wait a moment before reading again: the read
        was large and no confirmation is due, so gathering more input into
        the next read costs nothing but saves writes and wake-ups here and
        in the broker.
        """
        held, outbox, handle = self._held, self._outbox, self._on_message
        direct = self._link is link and self._handling
        frames: list[bytes] = []
        publish_type = mqtt5.PublishPacket
        self._in_batch = True
        try:
            for packet in batch:
                if type(packet) is publish_type:
                    if packet.qos == 2:
                        link.fail("the broker sent QoS 2, above the subscription")
                        return False
                    packet_id = packet.packet_id or 0
                    if not direct or held or len(outbox) >= OUTBOX_CAPACITY:
                        held.append(
                            (packet.topic, packet.payload, packet.retain, packet_id)
                        )
                        continue
                    topic = packet.topic
                    self._handling_id = packet_id
                    try:
                        handle(topic, packet.payload, packet.retain)
                    except Exception as exc:  # a handler bug must not end the link
                        self._handler_failed(topic, exc)
                    if packet_id:
                        if self._deferred is None and not self._acks:
                            frames.append(_puback(packet_id))
                        else:
                            self._acknowledge(packet_id, frames)
                elif isinstance(packet, mqtt5.PubAckPacket):
                    self._confirmed(packet)
                else:
                    self._control(link, packet)
        finally:
            self._in_batch = False
            self._handling_id = 0
        link.heard = True
        self._serve_batch(link, frames)
        return len(batch) >= REST_AFTER and not self._inflight

    def writable(self, link: Link) -> None:
        self._serve_batch(link, [])

    def _serve_batch(self, link: Link, frames: list[bytes]) -> None:
        if self._ack_frames:
            frames.extend(self._ack_frames)
            self._ack_frames.clear()
        if self._link is link:
            # Sending first makes room; handling fills it again.
            held, outbox = self._held, self._outbox
            while True:
                self._pump(link, frames)
                if not (held and self._handling) or len(outbox) >= OUTBOX_CAPACITY:
                    break
                self._handle_held(frames)
        if self._before_acknowledging is not None:
            self._before_acknowledging()
        link.write(frames)
        self._apply_pressure(link)
        if self._drained is not None and not self.pending:
            if not self._drained.done():
                self._drained.set_result(None)

    def _handle_held(self, frames: list[bytes]) -> None:
        held, outbox, handle = self._held, self._outbox, self._on_message
        self._in_batch = True
        try:
            while held and len(outbox) < OUTBOX_CAPACITY:
                topic, payload, retain, packet_id = held.popleft()
                self._handling_id = packet_id
                try:
                    handle(topic, payload, retain)
                except Exception as exc:  # a handler bug must not end the link
                    self._handler_failed(topic, exc)
                if packet_id:
                    self._acknowledge(packet_id, frames)
        finally:
            self._in_batch = False
            self._handling_id = 0

    def _pump(self, link: Link, frames: list[bytes]) -> None:
        """Move outbox messages onto the wire while the window allows."""
        outbox, inflight, window = self._outbox, self._inflight, self._window
        publish = mqtt5.PublishPacket
        while outbox and not link.write_paused:
            item = outbox[0]
            topic, payload, qos, retain, on_done = item
            if qos:
                if len(inflight) >= window:
                    break
                packet_id = self._packet_id()
                inflight[packet_id] = item
                frames.append(
                    publish(
                        topic, payload, qos=_QOS1, retain=retain, packet_id=packet_id
                    ).write()
                )
                outbox.popleft()
            else:
                frames.append(publish(topic, payload, retain=retain).write())
                outbox.popleft()
                if on_done is not None:
                    on_done(True)

    def _apply_pressure(self, link: Link) -> None:
        if len(self._outbox) >= OUTBOX_CAPACITY or len(self._held) >= HELD_CAPACITY:
            # Confirmations that free the window come on this socket: stop
            # reading only when none is due, or the session would stall.
            if not self._inflight:
                if not link.read_paused:
                    log.debug("outbox full: reading paused")
                link.pause_reading()
        elif link.read_paused:
            link.resume_reading()

    def _confirmed(self, packet: mqtt5.PubAckPacket) -> None:
        item = self._inflight.pop(packet.packet_id, None)
        if item is None:
            return
        if packet.reason_code.value >= 0x80:
            # Answered all the same: sending it again would be refused again.
            self._note_failure(
                f"puback:{packet.reason_code.name}",
                "the broker refused a message on %s: %s",
                item[0],
                packet.reason_code.name,
            )
        if item[4] is not None:
            item[4](True)

    def _control(self, link: Link, packet: mqtt5.Packet) -> None:
        if isinstance(packet, mqtt5.ConnAckPacket):
            if self._connack is not None and not self._connack.done():
                self._connack.set_result(packet)
        elif isinstance(packet, mqtt5.SubAckPacket):
            waiter = self._subacks.pop(packet.packet_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(packet)
        elif isinstance(packet, mqtt5.DisconnectPacket):
            link.fail(f"the broker disconnected us: {packet.reason_code.name}")
        elif isinstance(packet, mqtt5.PingRespPacket):
            pass
        else:
            log.debug("ignored a %s from the broker", type(packet).__name__)

    def _flush_soon(self) -> None:
        self._flush_pending = False
        if self._link is not None:
            self._serve_batch(self._link, [])

    def _packet_id(self) -> int:
        busy = self._inflight
        while True:
            self._last_id = self._last_id % 65_535 + 1
            if self._last_id not in busy and self._last_id not in self._subacks:
                return self._last_id

    def _handler_failed(self, topic: str, exc: Exception) -> None:
        self._note_failure(
            f"handler:{type(exc).__name__}",
            "a message on %s could not be handled: %s",
            topic,
            repr(exc),
        )

    def _note_failure(self, key: str, message: str, *args: object) -> None:
        if key not in self._failures:
            self._failures.add(key)
            log.warning(message + " (logged once)", *args)

    # -- the session loop

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, serve and reconnect until `stop` is set; then flush and leave."""
        self._loop = asyncio.get_running_loop()
        attempt = 0
        while not stop.is_set():
            link: Link | None = None
            try:
                link = await self._connect()
                attempt = 0
                await self._serve(link, stop)
                return
            except LinkError as exc:
                was_connected = self.connected
                if stop.is_set():
                    log.warning(
                        "stopped while disconnected: %d messages unsent", self.pending
                    )
                    return
                delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2**attempt)
                delay *= random.uniform(0.5, 1.0)
                attempt += 1
                if was_connected:
                    log.warning("lost the broker: %s", exc)
                log.info(
                    "reconnecting to %s in %.1f s (%s)",
                    self.settings.broker,
                    delay,
                    exc,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            finally:
                self._link_down(link)

    async def _connect(self) -> Link:
        s = self.settings
        broker = s.broker
        while True:
            link = await open_link(
                self,
                broker.host,
                broker.port,
                tls=s.tls_context if s.tls_context is not None else broker.tls,
                timeout=CONNECT_TIMEOUT,
            )
            will = mqtt5.Will(
                s.status_topic,
                payload=b"offline",
                qos=_QOS1 if self._max_qos else _QOS0,
                retain=self._retain_ok,
            )
            connect = mqtt5.ConnectPacket(
                s.client_id,
                username=broker.username,
                password=(
                    broker.password.encode() if broker.password is not None else None
                ),
                clean_start=s.clean_start,
                will=will,
                keep_alive=KEEP_ALIVE,
                session_expiry_interval=0 if s.clean_start else SESSION_EXPIRY,
                receive_max=RECEIVE_MAXIMUM,
            )
            self._connack = asyncio.get_running_loop().create_future()
            link.write([connect.write()])
            try:
                connack = await _answer(link, self._connack, "CONNACK")
            except LinkError:
                link.close()
                raise
            code = connack.reason_code
            # A broker that keeps no retained messages, or takes nothing
            # above QoS 0, refuses the will as well: ask again without.
            if code == mqtt5.ConnAckReasonCode.RETAIN_NOT_SUPPORTED and self._retain_ok:
                link.close()
                log.warning(
                    "the broker keeps no retained messages: the status is not retained"
                )
                self._retain_ok = False
                continue
            if code == mqtt5.ConnAckReasonCode.QUALITY_NOT_SUPPORTED and self._max_qos:
                link.close()
                log.warning(
                    "the broker takes QoS 0 only: messages may be lost on the way"
                )
                self._max_qos = 0
                continue
            break
        if connack.reason_code != mqtt5.ConnAckReasonCode.SUCCESS:
            link.close()
            raise LinkError(f"the broker refused us: {connack.reason_code.name}")
        if not connack.retain_available and self._retain_ok:
            log.warning(
                "the broker keeps no retained messages: the status is not retained"
            )
            self._retain_ok = False
        if int(connack.max_qos.value) < self._max_qos:
            log.warning(_QOS0_ONLY)
            self._max_qos = int(connack.max_qos.value)
        self._window = max(1, min(MAX_INFLIGHT, connack.receive_max))
        self._max_packet = min(MAX_PACKET, connack.max_packet_size or MAX_PACKET)
        self._keep_alive = connack.server_keep_alive or KEEP_ALIVE
        self._link = link
        self._handling = True
        self.connected = True
        log.info("connected to %s as %s", broker, s.client_id)
        return link

    async def _serve(self, link: Link, stop: asyncio.Event) -> None:
        await self._subscribe(link)
        self.send(self.settings.status_topic, b"online", 1, True)
        log.info("online: %s", self.settings.status_topic)
        self.online = True
        if not self._ready_once:
            self._ready_once = True
            self._on_ready()

        stopping = asyncio.ensure_future(stop.wait())
        pinger = asyncio.create_task(self._ping(link), name="lot-mqtt-ping")
        try:
            either: set[asyncio.Future[Any]] = {stopping, link.closed}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if link.closed.done():
                link.closed.result()  # raises what ended the link
            # Stopping: what is in hand is sent, what is not handled yet
            # stays with the broker's session.
            self._handling = False
            await self._flush(link)
            self.send(self.settings.status_topic, b"offline", 1, True)
            await self._flush(link)
            log.info("offline: %s", self.settings.status_topic)
            link.write([mqtt5.DisconnectPacket().write()])
            link.close()
        finally:
            stopping.cancel()
            pinger.cancel()

    async def _subscribe(self, link: Link) -> None:
        if not self._filters:
            return
        # Retain handling 1: retained messages come only with a new
        # subscription, so a resumed session does not replay them. Retain As
        # Published: without it the broker clears the flag on live messages,
        # and a bridge could not tell a retained message from another.
        qos = mqtt5.QoS(self.settings.qos)
        wanted = [
            mqtt5.TopicFilter(
                f,
                max_qos=qos,
                retain_as_published=True,
                retain_handling=mqtt5.RetainHandling.SEND_IF_SUBSCRIPTION_NOT_EXISTS,
            )
            for f in self._filters
        ]
        packet_id = self._packet_id()
        waiter: asyncio.Future[mqtt5.SubAckPacket] = (
            asyncio.get_running_loop().create_future()
        )
        self._subacks[packet_id] = waiter
        link.write([mqtt5.SubscribePacket(packet_id, wanted).write()])
        suback = await _answer(link, waiter, "SUBACK")
        codes = suback.reason_codes
        refused = [
            f for f, c in zip(self._filters, codes, strict=False) if c.value >= 0x80
        ]
        for topic_filter in refused:
            log.error("the broker refused the subscription %s", topic_filter)
        log.info("subscribed to %d filters", len(self._filters) - len(refused))

    async def _ping(self, link: Link) -> None:
        """Keep the link alive and notice a broker that stopped answering."""
        interval = self._keep_alive / 2
        asked = False
        while True:
            link.heard = False
            await asyncio.sleep(interval)
            if not link.heard and asked:
                link.fail(f"no answer from the broker in {interval * 2:.0f} s")
                return
            link.write([_PINGREQ])
            asked = True

    async def _flush(self, link: Link) -> None:
        if not self.pending:
            return
        self._drained = asyncio.get_running_loop().create_future()
        self._serve_batch(link, [])
        try:
            await _answer(link, self._drained, "confirmations", FLUSH_TIMEOUT)
        except LinkError as exc:
            log.warning("gave up flushing (%s): %d messages unsent", exc, self.pending)
        finally:
            self._drained = None

    def _link_down(self, link: Link | None) -> None:
        """Forget the link; unconfirmed messages go back to the outbox head,
        except those whose sender asked to be told (`on_done(False)`)."""
        if link is not None:
            link.close()
        self._link = None
        self.connected = self.online = False
        for waiter in self._subacks.values():
            waiter.cancel()
        self._subacks.clear()
        # Deferred acknowledgements die with the link: the broker sends
        # those messages again.
        self._acks.clear()
        self._ack_frames.clear()
        unanswered = [*self._inflight.values(), *self._outbox]
        self._inflight.clear()
        self._outbox.clear()
        told: list[Done] = []
        for item in unanswered:
            if item[4] is None:
                self._outbox.append(item)
            else:
                told.append(item[4])
        for on_done in told:
            on_done(False)
        # Unacknowledged QoS 1 input comes again from the session; QoS 0
        # input in hand is still handled after the reconnect.
        self._held = deque(m for m in self._held if not m[3])


async def _answer(
    link: Link,
    waiter: asyncio.Future[_T],
    what: str,
    timeout: float = CONNECT_TIMEOUT,
) -> _T:
    """The result of `waiter`, or LinkError when the link ends or time runs out."""
    either: set[asyncio.Future[Any]] = {waiter, link.closed}
    done, _ = await asyncio.wait(
        either, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
    )
    if waiter in done:
        return waiter.result()
    if link.closed.done():
        link.closed.result()
    raise LinkError(f"no {what} from the broker in {timeout:.0f} s")
