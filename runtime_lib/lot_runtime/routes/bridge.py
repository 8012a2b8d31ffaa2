"""MQTT_BRIDGE: forward messages between the site's broker and another one.

A bridge has two sides, SOURCE_CONFIG and DESTINATION_CONFIG.  A side is
either the site's own broker (`SiteBroker`, `BROKER SELF`: read through the
site connection's filters and `deliver`, written with `RouteContext.publish`)
or a `RemoteBroker`, reached through a `Connection` of its own.  Each
`BridgeMapping` reads SOURCE_TOPIC and writes DESTINATION_TOPIC: `out` reads
on the source side and writes on the destination side, `in` the reverse,
`both` each way; the levels matched by `+` and `#` are carried over in order.

Delivery, per side that is written:
- a message read is appended to that side's on-disk `Spool` before the
  reading connection acknowledges it (handlers return only after the append);
- a pump hands spooled messages to the writing connection in batches, each
  followed by a marker on a `$lot/bridges/...` topic the bridge itself
  subscribes to there; the marker coming back means the broker has taken
  everything before it, and only then is the batch committed in the spool;
- at most `WINDOW` messages per side are handed over and unconfirmed, so a
  returning link is fed at the broker's pace, not flooded;
- after a restart the spool resends what was not committed, in order, and
  counts it as `resent` (each may arrive twice).

Echoes: with `both` (or two mappings that meet), what the bridge writes on a
side comes back to its own subscription there.  Each such message is
remembered, and when it comes back it is not forwarded to the topic it came
from.  Status: `connected`, or `spooling N` while a remote side is down or
catching up; counters go, retained, to `.../routes/<route>/counters`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..mqtt import BrokerAddress, Connection, ConnectionSettings
from ..topics import Plan
from . import RouteContext, Setting
from .spool import Position, Spool

__all__ = ["BridgeMapping", "BridgeRoute", "RemoteBroker", "SiteBroker"]

log = logging.getLogger("lot")

BATCH = 64  # messages per confirmation marker
WINDOW = 512  # messages handed to one side and not yet confirmed
CONFIRM_TIMEOUT = 30.0  # seconds online without a marker back: send again
TICK = 1.0  # seconds between spool syncs, status and counter updates
EARLY_LIMIT = 10_000  # messages taken before the spools are open
ECHO_LIMIT = 100_000  # written messages remembered for echo suppression
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class SiteBroker:
    """`BROKER SELF`: the site's own broker, through the site's connection."""


@dataclass(frozen=True, slots=True)
class RemoteBroker:
    """Another broker; values may be `Env` / `Secret`, resolved at start."""

    address: Setting
    port: Setting = 1883
    client_id: Setting = None
    username: Setting = None
    password: Setting = None
    tls: Setting = False
    allow_untrusted: Setting = False
    ca_cert: Setting = None
    client_cert: Setting = None
    client_cert_password: Setting = None


Broker = SiteBroker | RemoteBroker


@dataclass(frozen=True, slots=True)
class BridgeMapping:
    """One `ADD MAPPING`: read `source`, write `destination`, per `direction`."""

    name: str
    source: str
    destination: str
    direction: str = "out"  # "out", "in" or "both"


class _Hop:
    """One direction of one mapping: a filter read on one side, a target
    topic written on the other."""

    def __init__(self, read: _Side, topic_filter: str, target: str, write: _Side):
        self.read, self.write = read, write
        self.plan = Plan.of(topic_filter)
        self.target = target
        self._levels = target.split("/")

    def topic_for(self, topic: str) -> str | None:
        """The written topic for a read one, or None when the filter misses."""
        captures = self.plan.match(topic)
        if captures is None:
            return None
        rest = topic.split("/")[len(self.plan.levels) :] if self.plan.multi else []
        levels: list[str] = []
        plus = iter(captures)
        for level in self._levels:
            if level == "+":
                levels.append(next(plus, ""))
            elif level == "#":
                levels.extend(rest)
            else:
                levels.append(level)
        return "/".join(levels) or None


@dataclass(slots=True)
class _Batch:
    number: int
    end: Position
    count: int
    sent_at: float


class _Side:
    """One broker of the bridge: what is read there and what is written."""

    def __init__(self, label: str, broker: Broker, route: str) -> None:
        self.label = label  # "source" or "destination"
        self.broker = broker
        self.hops: list[_Hop] = []
        self.marker = f"$lot/bridges/{route}/{label}"
        self.spool: Spool | None = None
        self.early: list[tuple[str, bytes, bool]] = []
        self.send: Callable[[str, bytes, bool], None] = lambda *_: None
        self.online: Callable[[], bool] = lambda: True
        self.online_since = 0.0
        self.batches: deque[_Batch] = deque()
        self.inflight = 0
        self.wake = asyncio.Event()
        # (topic written here, payload) -> the topics on the other side it
        # came from; only for messages a hop of this side would read again.
        self.echoes: OrderedDict[tuple[str, bytes], list[str]] = OrderedDict()

    @property
    def remote(self) -> bool:
        return isinstance(self.broker, RemoteBroker)


class BridgeRoute:
    """A route of type MQTT_BRIDGE (see the module docstring)."""

    def __init__(
        self,
        *,
        name: str,
        source: Broker,
        destination: Broker,
        mappings: tuple[BridgeMapping, ...],
        spool_limit: int = 64 << 20,
    ) -> None:
        self.name = name
        self.spool_limit = spool_limit
        self.sides = (
            _Side("source", source, name),
            _Side("destination", destination, name),
        )
        here, there = self.sides
        for mapping in mappings:
            read, write = mapping.source, mapping.destination
            if mapping.direction in ("out", "both"):
                here.hops.append(_Hop(here, read, write, there))
            if mapping.direction == "in":
                there.hops.append(_Hop(there, read, write, here))
            if mapping.direction == "both":
                there.hops.append(_Hop(there, write, read, here))
        self.filters = tuple(
            dict.fromkeys(
                f
                for side in self.sides
                if not side.remote
                for f in (*(h.plan.filter for h in side.hops), side.marker)
            )
        )
        self.counters = dict.fromkeys(
            ("forwarded", "resent", "echoes", "dropped", "unmapped"), 0
        )
        self._epoch = os.urandom(6).hex()
        self._numbers = 0

    # -- reading (inline in a connection's receive loop: never waits)

    def deliver(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """A message from the site's broker."""
        for side in self.sides:
            if not side.remote:
                self._read(side, topic, payload, retain)

    def _read(self, side: _Side, topic: str, payload: bytes, retain: bool) -> None:
        if topic == side.marker:
            self._confirmed(side, payload)
            return
        origin = self._echo_of(side, topic, payload) if side.echoes else None
        written: set[tuple[int, str]] = set()
        for hop in side.hops:
            target = hop.topic_for(topic)
            if target is None:
                continue
            if target.startswith("$") or "+" in target or "#" in target:
                self.counters["unmapped"] += 1
                continue
            if target == origin:
                origin = None  # one echo suppressed per message written
                self.counters["echoes"] += 1
                continue
            if (id(hop.write), target) not in written:
                written.add((id(hop.write), target))
                self._store(hop.write, target, payload, retain, topic)

    @staticmethod
    def _echo_of(side: _Side, topic: str, payload: bytes) -> str | None:
        """The topic a message came from when the bridge itself wrote it here."""
        origins = side.echoes.get((topic, payload))
        if not origins:
            return None
        origin = origins.pop(0)
        if not origins:
            del side.echoes[(topic, payload)]
        return origin

    def _store(
        self, side: _Side, topic: str, payload: bytes, retain: bool, origin: str
    ) -> None:
        if any(h.write is not side and h.plan.match(topic) for h in side.hops):
            side.echoes.setdefault((topic, payload), []).append(origin)
            if len(side.echoes) > ECHO_LIMIT:
                side.echoes.popitem(last=False)
        if side.spool is None:
            if len(side.early) < EARLY_LIMIT:
                side.early.append((topic, payload, retain))
            else:
                self.counters["dropped"] += 1
            return
        side.spool.append(topic, payload, retain)
        side.wake.set()

    def _confirmed(self, side: _Side, payload: bytes) -> None:
        epoch, _, number = payload.decode(errors="replace").partition(" ")
        if epoch != self._epoch or not number.isdigit() or side.spool is None:
            return
        while side.batches and side.batches[0].number <= int(number):
            batch = side.batches.popleft()
            side.spool.commit(batch.end, batch.count)
            side.inflight -= batch.count
            self.counters["forwarded"] += batch.count
        side.wake.set()

    # -- the route's life

    async def run(self, context: RouteContext) -> None:
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        try:
            for side in self.sides:
                self._open(side, context)
                if side.remote:
                    connection = self._connect(side, context)
                    tasks.append(
                        asyncio.create_task(
                            connection.run(stop), name=f"lot-bridge-{side.label}"
                        )
                    )
                if side.spool is not None:
                    pump = self._pump(side, side.spool)
                    tasks.append(
                        asyncio.create_task(pump, name=f"lot-pump-{side.label}")
                    )
            await self._watch(context, tasks)
        finally:
            stop.set()
            pumps = [t for t in tasks if t.get_name().startswith("lot-pump")]
            for task in pumps:
                task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.gather(*tasks), 12)
            for side in self.sides:
                if side.spool is not None:
                    side.spool.sync()

    def _open(self, side: _Side, context: RouteContext) -> None:
        """Open the spool of a written side and take what came before it."""
        if side.spool is None and any(
            h.write is side for s in self.sides for h in s.hops
        ):
            folder = context.state_dir() / f"to-{side.label}"
            side.spool = Spool(Path(folder), limit_bytes=self.spool_limit)
            self.counters["resent"] += side.spool.resent_at_open
            if side.spool.backlog:
                log.info(
                    "route %s: %d messages spooled for the %s broker",
                    context.route,
                    side.spool.backlog,
                    side.label,
                )
        if side.spool is not None:
            for topic, payload, retain in side.early:
                side.spool.append(topic, payload, retain)
            side.early.clear()
            side.batches.clear()
            side.inflight = 0
            self.counters["resent"] += side.spool.rewind()
        if not side.remote:

            def publish(topic: str, payload: bytes, retain: bool) -> None:
                context.publish(topic, payload, qos=1, retain=retain)

            side.send = publish

    def _connect(self, side: _Side, context: RouteContext) -> Connection:
        broker = side.broker
        assert isinstance(broker, RemoteBroker)
        value = context.resolve
        host = str(value(broker.address) or "")
        port = int(str(value(broker.port) or 1883))
        client_id = str(value(broker.client_id) or f"lot-{context.site}-{self.name}")
        tls = _flag(value(broker.tls))
        ca = str(value(broker.ca_cert) or "")
        certificate = str(value(broker.client_cert) or "")
        untrusted = _flag(value(broker.allow_untrusted))
        if not host:
            raise ValueError(f"the {side.label} broker has no BROKER_ADDRESS")
        options = None
        if tls and (ca or certificate or untrusted):
            options = tls_context(
                ca=ca,
                certificate=certificate,
                password=str(value(broker.client_cert_password) or ""),
                untrusted=untrusted,
            )
        settings = ConnectionSettings(
            broker=BrokerAddress(
                host=host,
                port=port,
                tls=tls,
                username=_text(value(broker.username)),
                password=_text(value(broker.password)),
            ),
            client_id=client_id,
            status_topic=f"lot/bridges/{client_id}/status",
            qos=1,
            tls_context=options,
        )
        filters = [*dict.fromkeys(h.plan.filter for h in side.hops), side.marker]

        def on_message(topic: str, payload: bytes, retain: bool) -> None:
            self._read(side, topic, payload, retain)

        connection = Connection(settings, filters=filters, on_message=on_message)
        side.send = lambda topic, payload, retain: connection.send(
            topic, payload, 1, retain
        )
        side.online = lambda: connection.online
        return connection

    async def _pump(self, side: _Side, spool: Spool) -> None:
        """Hand spooled messages over in confirmed batches, within the window."""
        while True:
            await side.wake.wait()
            side.wake.clear()
            while side.online() and spool.unsent and side.inflight < WINDOW:
                records = spool.read(min(BATCH, WINDOW - side.inflight))
                spool.mark_sent()
                for record in records:
                    side.send(record.topic, record.payload, record.retain)
                self._numbers += 1
                marker = f"{self._epoch} {self._numbers}".encode()
                side.send(side.marker, marker, False)
                side.batches.append(
                    _Batch(
                        self._numbers, records[-1].end, len(records), time.monotonic()
                    )
                )
                side.inflight += len(records)
                await asyncio.sleep(0)

    async def _watch(
        self, context: RouteContext, tasks: list[asyncio.Task[None]]
    ) -> None:
        """Once a second: sync the spools, notice lost markers and links that
        came back, and report status and counters."""
        counters_topic = f"lot/{context.site}/routes/{context.route}/counters"
        last_counters = ""
        while True:
            for task in tasks:
                if task.done():
                    task.result()
                    raise RuntimeError(f"{task.get_name()} ended")
            now = time.monotonic()
            for side in self.sides:
                self._tick(side, context, now)
            offline = [s.label for s in self.sides if s.remote and not s.online()]
            backlog = sum(s.spool.backlog for s in self.sides if s.spool is not None)
            if offline or backlog > WINDOW:
                context.status(f"spooling {backlog}")
            else:
                context.status("connected")
            self.counters["dropped"] = sum(
                s.spool.dropped for s in self.sides if s.spool is not None
            )
            text = json.dumps({**self.counters, "spooled": backlog}, sort_keys=True)
            if text != last_counters:
                last_counters = text
                context.publish(counters_topic, text.encode(), qos=1, retain=True)
            await asyncio.sleep(TICK)

    def _tick(self, side: _Side, context: RouteContext, now: float) -> None:
        spool = side.spool
        if spool is None:
            return
        spool.sync()
        if not side.online():
            side.online_since = 0.0
            return
        if not side.online_since:
            side.online_since = now
            side.wake.set()
        oldest = side.batches[0] if side.batches else None
        if (
            oldest is not None
            and side.remote
            and now - max(oldest.sent_at, side.online_since) > CONFIRM_TIMEOUT
        ):
            again = spool.rewind()
            log.warning(
                "route %s: the %s broker confirmed nothing for %.0f s; "
                "sending %d messages again",
                context.route,
                side.label,
                CONFIRM_TIMEOUT,
                again,
            )
            self.counters["resent"] += again
            side.batches.clear()
            side.inflight = 0
            side.wake.set()


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


def _flag(value: Setting) -> bool:
    return str(value).strip().lower() in _TRUE


def _text(value: Setting) -> str | None:
    return None if value is None or value == "" else str(value)
