"""PostgreSQL and TimescaleDB routes over asyncpg: parameterised, batched, spooled.

A ``PostgresRoute`` reads the SOURCE_TOPIC filters of its events on the site
broker.  ``deliver`` appends each message to the route's spool (on disk,
under ``context.state_dir()``; written by ``flush``, which the site calls
once per read, before acknowledging) and returns; ``run`` connects, takes the
oldest spooled messages in batches (``batch_size`` messages, or what came
within ``batch_window`` seconds of the first), turns each into the rows of
the events whose filter it matches, and sends each run of rows of one
statement with one ``executemany`` (one round trip, atomic), in order.
Only then are the messages committed in the spool, so an outage or a
restart loses nothing and replays in order (at least once).

Every value reaches the database as a bound parameter, converted to the
type PostgreSQL inferred for it (``sql_values``).  A message whose value
cannot be converted, or that the server rejects for its data (SQLSTATE
classes 22 and 23), is published to ``lot/<site>/deadletter/<route>`` with
the reason, and the route goes on.  Any other failure keeps the messages in
the spool and is retried: the server unreachable (status ``buffering N``),
or reachable but refusing the statement (status ``error: ...``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from ..topics import Dispatcher
from . import Env, RouteContext, Secret, Setting
from .spooled import dead_letter
from .sql_events import CleanEvent, Event, SqlEvent, SqlParameter
from .sql_spool import Record, Spool
from .sql_store import Job, Query, Statements, connect_arguments, describe_error
from .sql_values import BadValue, Message, reader, text_of

__all__ = ["CleanEvent", "PostgresRoute", "SqlEvent", "SqlParameter"]

log = logging.getLogger("lot")

BACKOFF_FIRST, BACKOFF_CAP = 0.25, 5.0
STATUS_EVERY = 1.0  # seconds between "buffering N" count updates
_DATABASE_ERRORS = (
    TimeoutError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


class PostgresRoute:
    """A POSTGRESQL or TIMESCALEDB route; see the module docstring."""

    def __init__(
        self,
        *,
        name: str,
        events: Sequence[Event],
        server: Setting = None,
        port: Setting = None,
        database: Setting = None,
        username: Setting = None,
        password: Setting = None,
        use_ssl: Setting = None,
        trust_server_certificate: Setting = None,
        schema: Setting = None,
        connection_string: Setting = None,
        batch_size: int = 1000,
        batch_window: float = 0.05,
        spool_limit: int = 256 * 2**20,
        spool_memory: int = 50_000,
    ) -> None:
        self.name = name
        self.events = tuple(events)
        self.filters = tuple(dict.fromkeys(e.source for e in self.events))
        self.settings: dict[str, Setting] = {
            "server": server,
            "port": port,
            "database": database,
            "username": username,
            "password": password,
            "use_ssl": use_ssl,
            "trust_server_certificate": trust_server_certificate,
            "schema": schema,
            "connection_string": connection_string,
        }
        self.batch_size = max(1, batch_size)
        self.batch_window = batch_window
        self.spool_limit = spool_limit
        self.spool_memory = spool_memory
        self.spool: Spool | None = None
        self.stored = 0
        self.dead_letters = 0
        self._early: list[tuple[str, bytes, float]] = []
        self._dispatcher: Dispatcher[int] = Dispatcher()
        for index, event in enumerate(self.events):
            self._dispatcher.add(event.source, index)
        self._by_topic: dict[str, tuple[int, ...]] = {}
        # The job key of each QUERY event, made once (None for CLEAN).
        self._keys = [
            ("sql", index) if isinstance(e, SqlEvent) else None
            for index, e in enumerate(self.events)
        ]
        self._constants: dict[str, str] = {}
        self._waiter: asyncio.Future[None] | None = None
        self._want = 1
        self._shown = ""  # the last state given to context.status

    # -- taking messages (inline in the site's receive loop)

    def deliver(self, topic: str, payload: bytes) -> None:
        spool = self.spool
        if spool is None:
            self._early.append((topic, payload, time.time()))
            return
        spool.append(topic, payload, time.time())
        waiter = self._waiter
        if waiter is not None and not waiter.done() and spool.pending >= self._want:
            waiter.set_result(None)

    def flush(self) -> None:
        """Write what ``deliver`` took to the spool file (before the site
        acknowledges it)."""
        if self.spool is not None:
            self.spool.flush()

    # -- the route's life

    async def run(self, context: RouteContext) -> None:
        self._prepare(context)
        settings = {key: context.resolve(value) for key, value in self.settings.items()}
        arguments = connect_arguments(
            settings, application_name=f"lot-{context.site}-{self.name}"[:63]
        )
        try:
            await self._connect_and_serve(context, arguments)
        finally:
            self.flush()

    async def _connect_and_serve(
        self, context: RouteContext, arguments: dict[str, Any]
    ) -> None:
        delay = BACKOFF_FIRST
        while True:
            try:
                connection = await asyncpg.connect(**arguments)
            except _DATABASE_ERRORS as exc:
                self._failed(context, exc)
                await self._pause(context, delay)
                delay = min(delay * 2, BACKOFF_CAP)
                continue
            try:
                await self._serve(connection, context)
            except _DATABASE_ERRORS as exc:
                self._failed(context, exc)
            finally:
                connection.terminate()
            await self._pause(context, delay)
            delay = min(delay * 2, BACKOFF_CAP)

    def _prepare(self, context: RouteContext) -> None:
        """Open the spool; resolve ``{env.X}`` and ``{secret.X}`` once."""
        self._tune(os.environ)
        if self.spool is None:
            self.spool = Spool(
                context.state_dir() / "spool",
                limit=self.spool_limit,
                memory=self.spool_memory,
                name=self.name,
            )
            for topic, payload, at in self._early:
                self.spool.append(topic, payload, at)
            self._early.clear()
            self.spool.flush()
        names = {n for e in self.events for n in _placeholders(e)}
        for name in sorted(names):
            kind, _, variable = name.partition(".")
            if kind in ("env", "secret"):
                value = Env(variable) if kind == "env" else Secret(variable)
                self._constants[name] = str(context.resolve(value))

    def _tune(self, environ: Mapping[str, str]) -> None:
        """LOT_SQL_BATCH_SIZE, LOT_SQL_BATCH_WINDOW (seconds) and
        LOT_SQL_SPOOL_LIMIT (bytes) override the generated defaults."""
        for name, attribute, kind in (
            ("LOT_SQL_BATCH_SIZE", "batch_size", int),
            ("LOT_SQL_BATCH_WINDOW", "batch_window", float),
            ("LOT_SQL_SPOOL_LIMIT", "spool_limit", int),
        ):
            text = environ.get(name, "").strip()
            if not text:
                continue
            try:
                value = kind(text)
            except ValueError:
                log.warning(
                    "route %s: %s=%r is not a number; ignored", self.name, name, text
                )
                continue
            setattr(self, attribute, max(value, 1) if kind is int else max(value, 0.0))

    async def _serve(self, connection: Any, context: RouteContext) -> None:
        spool = self.spool
        assert spool is not None
        queries = {
            index: Query(
                e.sql, tuple((p.placeholders, p.template) for p in e.parameters)
            )
            for index, e in enumerate(self.events)
            if isinstance(e, SqlEvent)
        }
        statements = Statements(connection, queries, self._constants)
        self._show(context, "connected" if not spool.pending else self._buffering())
        last_count = time.monotonic()
        while True:
            await self._wait_for_batch(spool)
            await self._store(statements, spool.peek(self.batch_size), context)
            if spool.pending <= self.batch_size:
                self._show(context, "connected")
            elif time.monotonic() - last_count >= STATUS_EVERY:
                self._count(context)
                last_count = time.monotonic()

    async def _wait_for_batch(self, spool: Spool) -> None:
        """Until a batch is full, or ``batch_window`` after its first message."""
        if spool.pending >= self.batch_size:
            return
        if not spool.pending:
            await self._until(1)
        if spool.pending < self.batch_size and self.batch_window > 0:
            try:
                await asyncio.wait_for(self._until(self.batch_size), self.batch_window)
            except TimeoutError:
                pass

    async def _until(self, count: int) -> None:
        self._want = count
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    # -- one batch

    async def _store(
        self, statements: Statements, batch: list[Record], context: RouteContext
    ) -> None:
        """Each run of jobs of one statement in one round trip, in order; the
        spool is committed after each run."""
        spool = self.spool
        assert spool is not None and batch
        jobs = list(self._jobs(batch, context))
        start = 0
        while start < len(jobs):
            end = start + 1
            while end < len(jobs) and jobs[end].key == jobs[start].key:
                end += 1
            run = jobs[start:end]
            event = self.events[run[0].event]
            publish = None
            if isinstance(event, SqlEvent) and event.destination:
                publish = self._publisher(context, event)
            failed = await statements.execute(run, publish)
            for job, reason in failed:
                self._dead_letter(context, job.record, event.name, reason)
            self.stored += len(run) - len(failed)
            if end < len(jobs):
                spool.commit(jobs[end].record.seq)
            start = end
        spool.commit(batch[-1].seq + 1)

    def _jobs(self, batch: Iterable[Record], context: RouteContext) -> Iterable[Job]:
        by_topic, keys = self._by_topic, self._keys
        for record in batch:
            events = by_topic.get(record.topic)
            if events is None:
                events = self._events_for(record.topic)
            for index in events:
                key = keys[index]
                if key is not None:
                    yield Job(key, index, record)
                    continue
                event = self.events[index]
                assert isinstance(event, CleanEvent)
                try:
                    message = Message(record.topic, record.payload, record.at)
                    data = reader(event.data, self._constants)(message)
                    yield Job.clean(index, event.table, data, record)
                except BadValue as exc:
                    self._dead_letter(context, record, event.name, str(exc))

    def _events_for(self, topic: str) -> tuple[int, ...]:
        found = tuple(sorted(index for index, _ in self._dispatcher.lookup(topic)))
        if len(self._by_topic) < 10_000:
            self._by_topic[topic] = found
        return found

    # -- what the route says

    def _publisher(
        self, context: RouteContext, event: SqlEvent
    ) -> Callable[[Job, bytes], None]:
        destination = event.destination or ""

        def publish(job: Job, payload: bytes) -> None:
            record = job.record
            message = Message(record.topic, record.payload, record.at)
            context.publish(self._topic(destination, message), payload)

        return publish

    def _topic(self, template: str, message: Message) -> str:
        """A DESTINATION_TOPIC with its placeholders filled from the message."""

        def one(match: re.Match[str]) -> str:
            try:
                return text_of(reader(match.group(1), self._constants)(message))
            except (BadValue, ValueError):
                return ""

        return _PLACEHOLDER.sub(one, template)

    def _dead_letter(
        self, context: RouteContext, record: Record, event: str, reason: str
    ) -> None:
        self.dead_letters += 1
        dead_letter(context, self.name, event, record, reason)

    def _failed(self, context: RouteContext, exc: BaseException) -> None:
        """The server is unreachable (buffering) or refuses the statement."""
        if isinstance(exc, asyncpg.PostgresError) and not _connection_lost(exc):
            self._show(context, f"error: {describe_error(exc)}")
            return
        if not self._shown.startswith("buffering"):
            log.warning(
                "route %s: database unreachable (%s); keeping messages in the spool",
                self.name,
                describe_error(exc),
            )
        self._show(context, self._buffering())

    def _buffering(self) -> str:
        spool = self.spool
        return f"buffering {spool.pending if spool else len(self._early)}"

    def _show(self, context: RouteContext, state: str) -> None:
        self._shown = state
        context.status(state)

    def _count(self, context: RouteContext) -> None:
        """Refresh the count of ``buffering N`` on the status topic; a count
        is no change of state, so it is not logged."""
        context.publish(
            context.status_topic, self._buffering().encode(), qos=1, retain=True
        )

    async def _pause(self, context: RouteContext, delay: float) -> None:
        """Wait ``delay`` (with jitter), refreshing the buffered count."""
        end = time.monotonic() + delay * random.uniform(0.5, 1.0)
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, STATUS_EVERY))
            if self._shown.startswith("buffering"):
                self._count(context)


_PLACEHOLDER = re.compile(r"\{([^{}\s\"':,]*)\}")
_CONNECTION_CLASSES = ("08", "53", "57", "58")


def _placeholders(event: Event) -> list[str]:
    if isinstance(event, CleanEvent):
        return [event.data]
    return [name for p in event.parameters for name in p.placeholders]


def _connection_lost(exc: BaseException) -> bool:
    return str(getattr(exc, "sqlstate", "") or "")[:2] in _CONNECTION_CLASSES
