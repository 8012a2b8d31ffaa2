"""MQTT_BRIDGE: forward messages between the site's broker and another one.

A bridge has two sides, SOURCE_CONFIG and DESTINATION_CONFIG.  A side is
either the site's own broker (`SiteBroker`, `BROKER SELF`: read through the
site connection's filters and `deliver`, written with `RouteContext.publish`)
or a `RemoteBroker`, reached through a `Connection` of its own
(`remote_broker`).  Each `BridgeMapping` reads SOURCE_TOPIC and writes
DESTINATION_TOPIC: `out` reads on the source side and writes on the
destination side, `in` the reverse, `both` each way; the levels matched by
`+` and `#` are carried over in order.

Delivery, per side that is written:
- a message read is appended to that side's on-disk `Spool`, the one
  ordered queue of what goes there;
- a pump hands spooled messages to the writing connection, at most `WINDOW`
  unanswered at a time (a returning link is fed at the broker's pace, not
  flooded); each PUBACK commits its record;
- while the written side is online, the reading connection acknowledges a
  message only once every copy of it was answered there (the connection's
  `defer` / `release`); while it is away, the spool has the message and it
  is acknowledged at once, so the reading broker never has to queue it;
- a dropped link sends again, in order, what was not answered, and a
  restart what was not committed; both are counted as `resent` (each may
  arrive twice).

Echoes: with `both` (or two mappings that meet), what the bridge writes on a
side comes back to its own subscription there.  Each such message is
remembered, and when it comes back it is not forwarded to the topic it came
from.  Status: `connected`, or `spooling N` while a remote side is down or
catching up; counters go, retained, to `.../routes/<route>/counters`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..mqtt import Done
from ..topics import Plan
from . import RouteContext
from .remote_broker import RemoteBroker, connect_remote, tls_context
from .spool import Position, Spool

__all__ = ["BridgeMapping", "BridgeRoute", "RemoteBroker", "SiteBroker", "tls_context"]

log = logging.getLogger("lot")

BATCH = 256  # spooled records taken at a time (from memory or the files)
WINDOW = 512  # records handed to one side and not yet answered
TICK = 1.0  # seconds between spool syncs, status and counter updates
EARLY_LIMIT = 10_000  # messages taken before the spools are open
ECHO_LIMIT = 100_000  # written messages remembered for echo suppression


@dataclass(frozen=True, slots=True)
class SiteBroker:
    """`BROKER SELF`: the site's own broker, through the site's connection."""


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


class _Reading:
    """One message read on a side: its acknowledgement (a ticket of the
    reading connection, None when nothing is held) waits for every copy."""

    __slots__ = ("copies", "side", "ticket")

    def __init__(self, side: _Side, ticket: object | None) -> None:
        self.side, self.ticket = side, ticket
        self.copies = 1  # the reading itself, settled once every copy is stored

    def settle(self) -> None:
        self.copies -= 1
        if not self.copies and self.ticket is not None:
            self.side.release(self.ticket)


def _never_online() -> bool:
    return False


class _Side:
    """One broker of the bridge: what is read there and what is written."""

    def __init__(self, label: str, broker: Broker) -> None:
        self.label = label  # "source" or "destination"
        self.broker = broker
        self.hops: list[_Hop] = []
        self.spool: Spool | None = None
        self.early: list[tuple[str, bytes, bool]] = []
        # Set when the route runs: the side's connection, or the site's.
        self.send: Callable[[str, bytes, bool, Done], None] = lambda *_: None
        self.online: Callable[[], bool] = _never_online
        self.hold: Callable[[], object | None] = lambda: None
        self.release: Callable[[Any], None] = lambda ticket: None
        # Spooled copies whose reading waits for this side, by spool position.
        self.waiting: deque[tuple[Position, _Reading]] = deque()
        self.inflight = 0  # records handed over and not answered
        self.generation = 0  # bumped when the link dropped: older answers void
        self.answered: Position | None = None  # answered, not yet committed
        self.answered_count = 0
        self.lost = False  # the link dropped with records unanswered
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
        self.sides = (_Side("source", source), _Side("destination", destination))
        here, there = self.sides
        for mapping in mappings:
            read, write = mapping.source, mapping.destination
            if mapping.direction in ("out", "both"):
                here.hops.append(_Hop(here, read, write, there))
            if mapping.direction == "in":
                there.hops.append(_Hop(there, read, write, here))
            if mapping.direction == "both":
                there.hops.append(_Hop(there, write, read, here))
        read_here = [h for side in self.sides if not side.remote for h in side.hops]
        self.filters = tuple(dict.fromkeys(h.plan.filter for h in read_here))
        self.counters = dict.fromkeys(
            ("forwarded", "resent", "echoes", "dropped", "unmapped"), 0
        )

    # -- reading (inline in a connection's receive loop: never waits)

    def flush(self) -> None:
        """Write what was spooled to the files; a connection calls this
        before it acknowledges what it read."""
        for side in self.sides:
            if side.spool is not None:
                side.spool.flush()

    def deliver(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """A message from the site's broker."""
        for side in self.sides:
            if not side.remote:
                self._read(side, topic, payload, retain)

    def _read(self, side: _Side, topic: str, payload: bytes, retain: bool) -> None:
        origin = self._echo_of(side, topic, payload) if side.echoes else None
        written: set[tuple[int, str]] = set()
        reading: _Reading | None = None
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
                if reading is None:
                    reading = _Reading(side, side.hold())
                self._store(hop.write, target, payload, retain, topic, reading)
        if reading is not None:
            reading.settle()

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
        self,
        side: _Side,
        topic: str,
        payload: bytes,
        retain: bool,
        origin: str,
        reading: _Reading,
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
        end = side.spool.append(topic, payload, retain)
        if reading.ticket is not None and side.online():
            reading.copies += 1
            side.waiting.append((end, reading))
        side.wake.set()

    def _answered(self, side: _Side, generation: int, end: Position, ok: bool) -> None:
        """The writing connection's word on one record handed to it."""
        if generation != side.generation:
            return  # sent on a link that has dropped since: sent again
        if not ok:
            side.generation += 1
            side.lost = True
            side.inflight = 0
        else:
            side.inflight -= 1
            side.answered = end
            side.answered_count += 1
            self.counters["forwarded"] += 1
            waiting = side.waiting
            while waiting and waiting[0][0] <= end:
                waiting.popleft()[1].settle()
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
                    self._settle(side, side.spool)
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
            side.generation += 1
            side.inflight = 0
            side.answered, side.answered_count, side.lost = None, 0, False
            self._release_waiting(side)
            self.counters["resent"] += side.spool.rewind()
        if not side.remote:

            def publish(topic: str, payload: bytes, retain: bool, done: Done) -> None:
                context.publish(topic, payload, qos=1, retain=retain, on_done=done)

            side.send = publish
            side.online = lambda: context.online
            side.hold, side.release = context.hold, context.release

    def _connect(self, side: _Side, context: RouteContext) -> Any:
        assert isinstance(side.broker, RemoteBroker)

        def on_message(topic: str, payload: bytes, retain: bool) -> None:
            self._read(side, topic, payload, retain)

        connection = connect_remote(
            side.broker,
            context,
            label=side.label,
            default_client_id=f"lot-{context.site}-{self.name}",
            filters=[*dict.fromkeys(h.plan.filter for h in side.hops)],
            on_message=on_message,
            before_acknowledging=self.flush,
        )

        def send(topic: str, payload: bytes, retain: bool, done: Done) -> None:
            connection.send(topic, payload, 1, retain, done)

        side.send = send
        side.online = lambda: connection.online
        side.hold, side.release = connection.defer, connection.release
        return connection

    async def _pump(self, side: _Side, spool: Spool) -> None:
        """Hand spooled messages over, within the window, while online."""
        while True:
            await side.wake.wait()
            side.wake.clear()
            self._settle(side, spool)
            if not side.online():
                # The spool has them: acknowledge what waited for this side.
                self._release_waiting(side)
                continue
            while spool.unsent and side.inflight < WINDOW:
                records = spool.read(min(BATCH, WINDOW - side.inflight))
                spool.mark_sent()
                generation = side.generation
                side.inflight += len(records)
                for record in records:
                    side.send(
                        record.topic,
                        record.payload,
                        record.retain,
                        functools.partial(self._answered, side, generation, record.end),
                    )

    def _settle(self, side: _Side, spool: Spool) -> None:
        """Commit what was answered; after a dropped link, read again from
        the first record not answered."""
        if side.answered is not None:
            spool.commit(side.answered, side.answered_count)
            side.answered, side.answered_count = None, 0
        if side.lost:
            side.lost = False
            self.counters["resent"] += spool.rewind()

    @staticmethod
    def _release_waiting(side: _Side) -> None:
        waiting = side.waiting
        while waiting:
            waiting.popleft()[1].settle()

    async def _watch(
        self, context: RouteContext, tasks: list[asyncio.Task[None]]
    ) -> None:
        """Once a second: sync the spools, wake the pumps (a link may have
        come back), and report status and counters."""
        counters_topic = f"lot/{context.site}/routes/{context.route}/counters"
        last_counters = ""
        while True:
            for task in tasks:
                if task.done():
                    task.result()
                    raise RuntimeError(f"{task.get_name()} ended")
            for side in self.sides:
                if side.spool is not None:
                    side.spool.sync()
                    side.wake.set()
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
