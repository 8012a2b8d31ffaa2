"""What the routes that send each message somewhere (REST_API calls, e-mail)
share: a disk spool in front, batches sent side by side, retries with
backoff for failures that may pass, dead letters for those that cannot, and
templates with placeholders filled from the message.

``SpooledSender`` takes a route's messages into the database routes' spool
(``sql_spool.Spool``, written before the site acknowledges them), so a
destination that is down or slow loses nothing.  ``run`` reads the oldest
messages in batches of ``batch_size`` and calls the route's ``send`` once
per message and matching event, ``parallel`` at a time.  ``send`` raises
``Retry`` for a failure that may pass (no connection, a busy server): those
messages are sent again, with backoff of ``BACKOFF_FIRST`` doubling to
``BACKOFF_CAP`` and jitter, until none is left, and only then does the spool
move on, so delivery is at least once.  ``send`` raises ``Refuse`` (or a
template raises ``BadValue``) for a message that can never be sent as it
is: it goes to ``lot/<site>/deadletter/<route>`` with the reason, the first
of each kind logged at WARNING, and the route goes on.

A failure that ``send`` did not classify (a driver raising what its route
did not foresee) is logged with its traceback, retried, and after
``UNEXPECTED_TRIES`` tries of one message made a dead letter, so that one
message can never hold the spool for good.

A route that can send many messages of one event in one call (one
multi-row INSERT) says so with ``batchable`` and ``send_batch``: consecutive
messages of such an event go together, and when the call is refused for
their data they are sent one by one, to dead-letter only the bad one.

While messages wait for retries the route's status is ``buffering N``
(refreshed every second); it is ``connected`` when a batch went through.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence

from ..topics import Dispatcher
from . import Env, RouteContext, Secret
from .sql_spool import Record, Spool
from .sql_values import BadValue, Message, reader, text_of

__all__ = [
    "BadValue",
    "Refuse",
    "Retry",
    "SpooledSender",
    "Template",
    "constants_of",
    "dead_letter",
    "describe",
    "placeholder_names",
]

log = logging.getLogger("lot")

BACKOFF_FIRST, BACKOFF_CAP = 0.5, 30.0
STATUS_EVERY = 1.0  # seconds between "buffering N" count updates
UNEXPECTED_TRIES = 3  # tries of a message that fails unexpectedly
PLACEHOLDER = re.compile(r"\{([^{}\s\"':,]*)\}")


class Refuse(Exception):
    """The message cannot be sent as it is: it goes to the dead letters."""


class Retry(Exception):
    """Sending failed for a reason that may pass: the message is sent again."""


class Template:
    """Text with placeholders, filled from one message; ``encode`` is applied
    to each filled value (percent-encoding, HTML escaping).  ``lenient``
    leaves braces that are no placeholder as written (text that lotc did not
    check, such as an HTML file's CSS); otherwise they are a ValueError."""

    def __init__(
        self,
        text: str,
        constants: Mapping[str, str],
        encode: Callable[[str], str] = lambda value: value,
        *,
        lenient: bool = False,
    ) -> None:
        parts = PLACEHOLDER.split(text)
        self._literals = [parts[0]]
        self._names: list[str] = []
        self._readers = []
        for name, literal in zip(parts[1::2], parts[2::2], strict=True):
            try:
                read = reader(name, constants)
            except ValueError:
                if not lenient:
                    raise
                self._literals[-1] += "{" + name + "}" + literal
                continue
            self._names.append(name)
            self._readers.append(read)
            self._literals.append(literal)
        self._encode = encode

    def fill(self, message: Message) -> str:
        """The text for ``message``; BadValue when a placeholder has no value
        in it (a JSON path the payload lacks or holds null, say)."""
        out = [self._literals[0]]
        for index, read in enumerate(self._readers):
            value = read(message)
            if value is None:
                raise BadValue(f"the message has no value for {{{self._names[index]}}}")
            out.append(self._encode(text_of(value)))
            out.append(self._literals[index + 1])
        return "".join(out)


def placeholder_names(texts: Sequence[str | None]) -> set[str]:
    return {name for text in texts if text for name in PLACEHOLDER.findall(text)}


def constants_of(names: set[str], context: RouteContext) -> dict[str, str]:
    """The text of ``{env.X}`` and ``{secret.X}``, resolved once."""
    found: dict[str, str] = {}
    for name in sorted(names):
        kind, _, variable = name.partition(".")
        if kind in ("env", "secret"):
            value = Env(variable) if kind == "env" else Secret(variable)
            found[name] = str(context.resolve(value))
    return found


class SpooledSender:
    """A route that sends each message it takes; see the module docstring.

    A subclass sets ``far_side`` (what the outage warning calls it) and
    implements ``open(context)`` (resolve settings, connect or make a
    session), ``send(event, message, context)`` and ``close()``."""

    far_side = "the destination"

    def __init__(
        self,
        name: str,
        sources: Sequence[str | None],
        *,
        parallel: int,
        batch_size: int,
        spool_limit: int,
        spool_memory: int,
    ) -> None:
        self.name = name
        self.filters = tuple(dict.fromkeys(s for s in sources if s))
        self.parallel = max(1, parallel)
        self.batch_size = max(1, batch_size)
        self.spool_limit = spool_limit
        self.spool_memory = spool_memory
        self.spool: Spool | None = None
        self.sent = 0
        self.dead_letters = 0
        self._early: list[tuple[str, bytes, float]] = []
        self._dispatcher: Dispatcher[int] = Dispatcher()
        for index, source in enumerate(sources):
            if source:
                self._dispatcher.add(source, index)
        self._waiter: asyncio.Future[None] | None = None
        self._shown = ""
        # (record, event) -> unexpected failures so far.
        self._surprises: dict[tuple[int, int], int] = {}

    # -- for the route

    async def open(self, context: RouteContext) -> None:
        """Get ready to send (called once, before the first batch)."""

    async def send(self, event: int, message: Message, context: RouteContext) -> None:
        """Send ``message`` for event number ``event``; raise Retry or Refuse."""
        raise NotImplementedError

    async def close(self) -> None:
        """Let go of connections (called when the route stops)."""

    def batchable(self, event: int) -> bool:
        """Whether consecutive messages of ``event`` may go in one
        ``send_batch`` call (a route that can say so overrides both)."""
        return False

    async def send_batch(
        self, event: int, messages: list[Message], context: RouteContext
    ) -> None:
        """Send ``messages`` of one event in one call; raise Retry for all of
        them, or Refuse to have them sent one by one to find the bad one."""
        raise NotImplementedError

    def event_name(self, event: int) -> str:
        return str(event)

    # -- taking messages (inline in the site's receive loop)

    def deliver(self, topic: str, payload: bytes) -> None:
        if self.spool is None:
            self._early.append((topic, payload, time.time()))
            return
        self.spool.append(topic, payload, time.time())
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def flush(self) -> None:
        """Write what ``deliver`` took to the spool file (before the site
        acknowledges it)."""
        if self.spool is not None:
            self.spool.flush()

    # -- the route's life

    async def run(self, context: RouteContext) -> None:
        spool = self._open_spool(context)
        await self.open(context)
        self._show(context, "connected" if not spool.pending else self._buffering())
        try:
            while True:
                if not spool.pending:
                    await self._until_delivered()
                batch = spool.peek(self.batch_size)
                jobs = [
                    (record, index)
                    for record in batch
                    for index, _ in self._dispatcher.lookup(record.topic)
                ]
                await self._send_all(context, jobs)
                spool.commit(batch[-1].seq + 1)
                if self._shown != "connected" and spool.pending <= self.batch_size:
                    self._show(context, "connected")
        finally:
            await self.close()
            self.flush()

    def _open_spool(self, context: RouteContext) -> Spool:
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
        return self.spool

    async def _until_delivered(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def _send_all(
        self, context: RouteContext, jobs: list[tuple[Record, int]]
    ) -> None:
        """Send every job, ``parallel`` at a time; send again those that
        failed for a passing reason, with backoff, until none are left."""
        gate = asyncio.Semaphore(self.parallel)
        delay = BACKOFF_FIRST

        async def one(record: Record, event: int) -> str | None:
            """None when done (sent or dead-lettered), else why it failed."""
            message = Message(record.topic, record.payload, record.at)
            try:
                async with gate:
                    await self.send(event, message, context)
            except (Refuse, BadValue) as exc:
                self._dead_letter(context, record, event, str(exc))
                return None
            except Retry as exc:
                return str(exc)
            except Exception as exc:  # noqa: BLE001 - a driver failing its own way
                return self._unexpected(context, record, event, exc)
            self.sent += 1
            return None

        async def together(group: list[tuple[Record, int]]) -> list[str | None]:
            """A run of one batchable event in one call; when the call is
            refused, message by message to find the one at fault."""
            event = group[0][1]
            messages = [Message(r.topic, r.payload, r.at) for r, _ in group]
            try:
                async with gate:
                    await self.send_batch(event, messages, context)
            except Retry as exc:
                return [str(exc)] * len(group)
            except Exception:  # noqa: BLE001 - Refuse or worse: found one by one
                return [await one(record, event) for record, _ in group]
            self.sent += len(group)
            return [None] * len(group)

        async def alone(job: tuple[Record, int]) -> list[str | None]:
            return [await one(*job)]

        async def send_jobs(jobs: list[tuple[Record, int]]) -> list[str | None]:
            runs: list[list[tuple[Record, int]]] = []
            for job in jobs:
                if runs and runs[-1][0][1] == job[1] and self.batchable(job[1]):
                    runs[-1].append(job)
                else:
                    runs.append([job])
            done = await asyncio.gather(
                *(together(run) if len(run) > 1 else alone(run[0]) for run in runs)
            )
            return [outcome for found in done for outcome in found]

        pending = jobs
        while pending:
            outcomes = await send_jobs(pending)
            failed = [
                (job, why)
                for job, why in zip(pending, outcomes, strict=True)
                if why is not None
            ]
            if not failed:
                if self._shown.startswith("buffering"):
                    log.info("route %s: %s is back", self.name, self.far_side)
                    self._show(context, "connected")
                return
            if not self._shown.startswith("buffering"):
                log.warning(
                    "route %s: %s did not take a message (%s); keeping messages "
                    "in the spool",
                    self.name,
                    self.far_side,
                    failed[0][1],
                )
            self._show(context, self._buffering())
            await self._pause(context, delay)
            delay = min(delay * 2, BACKOFF_CAP)
            pending = [job for job, _ in failed]

    def _unexpected(
        self, context: RouteContext, record: Record, event: int, exc: Exception
    ) -> str | None:
        """A failure no route foresaw: logged with its traceback the first
        time, retried like a passing one, and after ``UNEXPECTED_TRIES``
        tries of one message a dead letter, so that one message cannot stop
        the spool for good."""
        key = (record.seq, event)
        tries = self._surprises.get(key, 0) + 1
        if not self._surprises:
            log.exception(
                "route %s: event %s: unexpected failure",
                self.name,
                self.event_name(event),
            )
        if tries < UNEXPECTED_TRIES:
            self._surprises[key] = tries
            return describe(exc)
        self._surprises.pop(key, None)
        self._dead_letter(
            context, record, event, f"unexpected failure: {describe(exc)}"
        )
        return None

    # -- what the route says

    def _dead_letter(
        self, context: RouteContext, record: Record, event: int, reason: str
    ) -> None:
        self.dead_letters += 1
        dead_letter(context, self.name, self.event_name(event), record, reason)

    def _buffering(self) -> str:
        spool = self.spool
        return f"buffering {spool.pending if spool else len(self._early)}"

    def _show(self, context: RouteContext, state: str) -> None:
        self._shown = state
        context.status(state)

    async def _pause(self, context: RouteContext, delay: float) -> None:
        """Wait ``delay`` (with jitter), refreshing the buffered count."""
        end = time.monotonic() + delay * random.uniform(0.5, 1.0)
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, STATUS_EVERY))
            context.publish(
                context.status_topic, self._buffering().encode(), qos=1, retain=True
            )


def dead_letter(
    context: RouteContext, route: str, event: str, record: Record, reason: str
) -> None:
    """Publish a message the route cannot take on the site's dead-letter
    topic, ``lot/<site>/deadletter/<route>``, with the reason; log the first
    of each event and kind of reason at WARNING, the others at DEBUG."""
    letter = {
        "route": route,
        "event": event,
        "topic": record.topic,
        "payload": record.payload.decode("utf-8", errors="replace"),
        "reason": reason,
    }
    context.publish(
        f"lot/{context.site}/deadletter/{route}",
        json.dumps(letter, ensure_ascii=False, separators=(",", ":")).encode(),
    )
    key = (context.site, route, event, reason.split(":")[0])
    level = logging.DEBUG if key in _LOGGED else logging.WARNING
    _LOGGED.add(key)
    log.log(
        level,
        "route %s: event %s: a message on %s went to the dead-letter topic: %s",
        route,
        event,
        record.topic,
        reason,
    )


# (site, route, event, kind of reason) already logged at WARNING.
_LOGGED: set[tuple[str, str, str, str]] = set()


def describe(exc: BaseException) -> str:
    """A short description of a failure, for dead letters and logs."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text[:160]}" if text else name
