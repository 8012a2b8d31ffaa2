"""The site's MQTT connection, behind a narrow interface (`Connection`).

Generated code never sees the client library: the runner gives a
`Connection` the filters to subscribe, a synchronous message handler and a
ready callback, sends with `send()` (never blocking), and awaits `run()`.
Here aiomqtt 2.5 / paho-mqtt 2.2 carry MQTT v5 with a persistent session.

Guarantees:
- handlers run inline in the receive loop, in arrival order; every message
  already queued is handled in the same loop turn;
- a QoS 1 message is acknowledged only after its handler returned, and the
  broker sends at most `RECEIVE_MAXIMUM` unacknowledged ones, so a slow site
  slows the broker down instead of growing memory;
- outgoing messages wait in a bounded outbox; while it is full the receive
  loop stops reading; messages not confirmed when the link drops are sent
  again after reconnecting (at least once);
- after every SUBACK the retained status `online` is published; the will is
  `offline`; a stop flushes the outbox and publishes `offline` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

__all__ = ["BrokerAddress", "Connection", "ConnectionSettings"]

log = logging.getLogger("lot")

OUTBOX_CAPACITY = 10_000
MAX_INFLIGHT = 100
RECEIVE_MAXIMUM = 100
SESSION_EXPIRY = 24 * 3600  # seconds the broker keeps our session offline
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 30.0
FLUSH_TIMEOUT = 10.0
PUBLISH_TIMEOUT = 30.0


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
    broker: BrokerAddress
    client_id: str
    status_topic: str
    qos: int = 1
    clean_start: bool = False


@dataclass(slots=True)
class _Outgoing:
    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Connection:
    """One logical MQTT session that survives broker restarts."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        filters: Sequence[str],
        on_message: Callable[[str, bytes], None],
        on_ready: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self._filters = tuple(filters)
        self._on_message = on_message
        self._on_ready = on_ready
        self._outbox: deque[_Outgoing] = deque()
        self._inflight: dict[int, _Outgoing] = {}
        self._seq = itertools.count()
        self._queued = asyncio.Event()  # the outbox is not empty
        self._room = asyncio.Event()  # the outbox has room
        self._room.set()
        self._idle = asyncio.Event()  # nothing queued or unconfirmed
        self._idle.set()
        self._ready_once = False
        self.connected = False
        self.online = False  # subscribed and `online` published

    # -- sending (synchronous, from handlers)

    def send(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """Queue a message; it is sent as soon as the connection allows."""
        self._outbox.append(_Outgoing(next(self._seq), topic, payload, qos, retain))
        self._queued.set()
        self._idle.clear()
        if len(self._outbox) >= OUTBOX_CAPACITY:
            self._room.clear()

    @property
    def pending(self) -> int:
        """Messages queued or sent but not yet confirmed."""
        return len(self._outbox) + len(self._inflight)

    # -- the session loop

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, serve and reconnect until `stop` is set; then flush and leave."""
        attempt = 0
        while not stop.is_set():
            client = self._client()
            try:
                async with client:
                    attempt = 0
                    self.connected = True
                    log.info(
                        "connected to %s as %s",
                        self.settings.broker,
                        self.settings.client_id,
                    )
                    await self._serve(client, stop)
                    return
            except aiomqtt.MqttError as exc:
                was_connected, self.connected = self.connected, False
                self._requeue()
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
                self.connected = self.online = False

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        connect = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        connect.SessionExpiryInterval = 0 if s.clean_start else SESSION_EXPIRY
        connect.ReceiveMaximum = RECEIVE_MAXIMUM
        client = aiomqtt.Client(
            s.broker.host,
            s.broker.port,
            username=s.broker.username,
            password=s.broker.password,
            identifier=s.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=s.clean_start,
            properties=connect,
            will=aiomqtt.Will(s.status_topic, b"offline", qos=1, retain=True),
            tls_context=ssl.create_default_context() if s.broker.tls else None,
            max_inflight_messages=MAX_INFLIGHT,
            logger=logging.getLogger("lot.mqtt"),
        )
        # Acknowledge a message only once its handler has run: aiomqtt has no
        # switch for this, so it is set on the paho client it wraps.
        client._client.manual_ack_set(True)
        return client

    async def _serve(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        await self._subscribe(client)
        await client.publish(self.settings.status_topic, b"online", qos=1, retain=True)
        log.info("online: %s", self.settings.status_topic)
        self.online = True
        if not self._ready_once:
            self._ready_once = True
            self._on_ready()

        receive = asyncio.create_task(self._receive(client), name="lot-receive")
        send = asyncio.create_task(self._send(client), name="lot-send")
        stopping = asyncio.create_task(stop.wait(), name="lot-stop")
        tasks = {receive, send, stopping}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if stopping not in done:
                for task in done:
                    task.result()  # raises what ended the session
                raise aiomqtt.MqttError("the receive loop ended")
            receive.cancel()
            await _quietly(receive)
            await self._flush(send)
            await client.publish(
                self.settings.status_topic, b"offline", qos=1, retain=True
            )
            log.info("offline: %s", self.settings.status_topic)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                await _quietly(task)

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        if not self._filters:
            return
        # Retain handling 1: retained messages come only with a new
        # subscription, so a resumed session does not replay them.
        options = SubscribeOptions(qos=self.settings.qos, retainHandling=1)
        codes = await client.subscribe([(f, options) for f in self._filters])
        refused = [
            f for f, c in zip(self._filters, codes, strict=False) if _code(c) >= 0x80
        ]
        for topic_filter in refused:
            log.error("the broker refused the subscription %s", topic_filter)
        log.info("subscribed to %d filters", len(self._filters) - len(refused))

    async def _receive(self, client: aiomqtt.Client) -> None:
        # aiomqtt offers neither a manual ack nor a non-blocking read: both
        # come from its internals (pinned with aiomqtt~=2.5.1), here only.
        paho = client._client
        queue = client._queue
        handle = self._on_message
        messages = client.messages
        while True:
            message = await anext(messages)
            while True:
                handle(message.topic.value, message.payload)
                if message.qos:
                    paho.ack(message.mid, message.qos)
                if not self._room.is_set():
                    log.debug("outbox full: reading paused")
                    await self._room.wait()
                try:
                    message = queue.get_nowait()
                except asyncio.QueueEmpty:
                    break

    async def _send(self, client: aiomqtt.Client) -> None:
        window = asyncio.Semaphore(MAX_INFLIGHT)
        failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        publishing: set[asyncio.Task[None]] = set()

        async def publish(item: _Outgoing) -> None:
            try:
                await client.publish(
                    item.topic,
                    item.payload,
                    qos=item.qos,
                    retain=item.retain,
                    timeout=PUBLISH_TIMEOUT,
                )
            except aiomqtt.MqttError as exc:
                if not failed.done():
                    failed.set_exception(exc)
                return
            finally:
                window.release()
            self._inflight.pop(item.seq, None)
            self._check_idle()

        try:
            while True:
                if not self._outbox:
                    self._queued.clear()
                    waiter: asyncio.Future[Any] = asyncio.ensure_future(
                        self._queued.wait()
                    )
                    await asyncio.wait(
                        [waiter, failed], return_when=asyncio.FIRST_COMPLETED
                    )
                    waiter.cancel()
                    if failed.done():
                        failed.result()
                    continue
                await window.acquire()
                item = self._outbox.popleft()
                if len(self._outbox) < OUTBOX_CAPACITY:
                    self._room.set()
                self._inflight[item.seq] = item
                task = asyncio.create_task(publish(item))
                publishing.add(task)
                task.add_done_callback(publishing.discard)
        finally:
            for task in publishing:
                task.cancel()

    def _check_idle(self) -> None:
        if not self._outbox and not self._inflight:
            self._idle.set()

    async def _flush(self, send: asyncio.Task[None]) -> None:
        self._check_idle()
        waiter = asyncio.ensure_future(self._idle.wait())
        done, _ = await asyncio.wait(
            {waiter, send}, timeout=FLUSH_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        if waiter not in done:
            log.warning("gave up flushing: %d messages unsent", self.pending)

    def _requeue(self) -> None:
        """Put unconfirmed messages back at the head of the outbox, in order."""
        if not self._inflight:
            return
        back = sorted(self._inflight.values(), key=lambda item: item.seq)
        self._inflight.clear()
        self._outbox.extendleft(reversed(back))
        self._queued.set()


def _code(reason: Any) -> int:
    """A SUBACK reason code as a number (paho gives ReasonCode objects)."""
    return int(getattr(reason, "value", reason))


async def _quietly(task: asyncio.Future[Any]) -> None:
    with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError, Exception):
        await task
