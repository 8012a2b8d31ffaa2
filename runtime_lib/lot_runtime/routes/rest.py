"""REST_API routes over aiohttp: calling an HTTP API, or serving one.

``RestClientRoute`` (a route with ``BASE_ADDRESS``) turns each message on an
event's ``source`` filter into one HTTP request, ``method`` to the base
address + ``endpoint``, with ``body`` as its content, and publishes the
response body on the event's ``destination``.  Placeholders are filled from
the message: in the endpoint each value is percent-encoded (a ``{payload}``
of ``New York`` is ``New%20York``, a ``/`` inside a value stays inside its
path segment), in the body it is written as it is (``{payload.json}`` as
JSON text).  A body that is JSON is sent as ``application/json``, any other
as ``text/plain``.

Messages wait in the same disk spool as the database routes' (written
before the site acknowledges them), so an API that is down or slow loses
nothing: the requests of a batch go out ``parallel`` at a time, and those
that fail for a reason that may pass (no connection, a timeout, HTTP 408,
425, 429 or 5xx) are sent again with capped backoff until they get an
answer; only then does the spool move on.  A request the API refuses (any
other status), a response above ``MAX_RESPONSE`` bytes, or a message whose
placeholders cannot be filled goes to ``lot/<site>/deadletter/<route>``
with the reason, and the route goes on.  Delivery is at least once.

``RestServerRoute`` (a route with ``SERVER_PORT``) listens for HTTP: a GET
on an event's endpoint answers the last payload published on its
``source`` (a topic; or, for a filter with wildcards, a JSON object of
topic -> value), and a POST, PUT, PATCH or DELETE publishes the request
body on its ``destination``.  With ``authorization`` set, a request must
carry that exact ``Authorization`` header.

``authorization`` is sent (client) or expected (server) as the whole
``Authorization`` header value; it is never logged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from yarl import URL

from ..topics import Dispatcher
from . import Env, RouteContext, Secret, Setting
from .sql_spool import Record, Spool
from .sql_values import BadValue, Message, reader, text_of

__all__ = ["MAX_RESPONSE", "RestClientRoute", "RestEvent", "RestServerRoute"]

log = logging.getLogger("lot")

MAX_RESPONSE = 16 * 2**20  # bytes of a response body that is published
MAX_REQUEST = 2**20  # bytes of a request body the server takes
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 30.0
STATUS_EVERY = 1.0  # seconds between "buffering N" count updates
_TRANSIENT_STATUS = frozenset({408, 425, 429})
_PLACEHOLDER = re.compile(r"\{([^{}\s\"':,]*)\}")
_WILDCARD = re.compile(r"(^|/)[+#](/|$)")


@dataclass(frozen=True, slots=True)
class RestEvent:
    """``ADD EVENT``: a request to make (client) or to answer (server)."""

    name: str
    method: str = "GET"
    endpoint: str = ""
    source: str | None = None
    destination: str | None = None
    body: str | None = None


class _Template:
    """Text with placeholders, filled from one message; ``encode`` is applied
    to each filled value (the endpoint's percent-encoding)."""

    def __init__(
        self,
        text: str,
        constants: Mapping[str, str],
        encode: Callable[[str], str] = lambda value: value,
    ) -> None:
        parts = _PLACEHOLDER.split(text)
        self._literals = parts[::2]
        self._names = parts[1::2]
        self._readers = [reader(name, constants) for name in self._names]
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


class _Refused(Exception):
    """The request cannot succeed as it is: the message goes to dead letters."""


class _Failed(Exception):
    """The request may succeed later: it is sent again."""


def _placeholder_names(events: Sequence[RestEvent]) -> set[str]:
    texts = [e.endpoint for e in events] + [e.body or "" for e in events]
    texts += [e.destination or "" for e in events]
    return {name for text in texts for name in _PLACEHOLDER.findall(text)}


def _constants(names: set[str], context: RouteContext) -> dict[str, str]:
    """The text of ``{env.X}`` and ``{secret.X}``, resolved once."""
    found: dict[str, str] = {}
    for name in sorted(names):
        kind, _, variable = name.partition(".")
        if kind in ("env", "secret"):
            value = Env(variable) if kind == "env" else Secret(variable)
            found[name] = str(context.resolve(value))
    return found


class RestClientRoute:
    """A REST_API route that calls ``base_address``; see the module docstring."""

    def __init__(
        self,
        *,
        name: str,
        base_address: Setting,
        events: Sequence[RestEvent],
        authorization: Setting = None,
        use_ssl: Setting = None,
        timeout: float = 10.0,
        parallel: int = 4,
        batch_size: int = 64,
        spool_limit: int = 256 * 2**20,
        spool_memory: int = 50_000,
    ) -> None:
        self.name = name
        self.events = tuple(e for e in events if e.source)
        self.filters = tuple(dict.fromkeys(e.source for e in self.events if e.source))
        self.settings: dict[str, Setting] = {
            "base_address": base_address,
            "authorization": authorization,
            "use_ssl": use_ssl,
        }
        self.timeout = timeout
        self.parallel = max(1, parallel)
        self.batch_size = max(1, batch_size)
        self.spool_limit = spool_limit
        self.spool_memory = spool_memory
        self.spool: Spool | None = None
        self.sent = 0
        self.dead_letters = 0
        self._early: list[tuple[str, bytes, float]] = []
        self._dispatcher: Dispatcher[int] = Dispatcher()
        for index, event in enumerate(self.events):
            if event.source:
                self._dispatcher.add(event.source, index)
        self._waiter: asyncio.Future[None] | None = None
        self._shown = ""
        self._logged: set[tuple[str, str]] = set()

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
        constants = _constants(_placeholder_names(self.events), context)
        base = self._base(context)
        requests = [_request_maker(base, e, constants) for e in self.events]
        destinations = [
            _Template(e.destination, constants) if e.destination else None
            for e in self.events
        ]
        authorization = context.resolve(self.settings["authorization"])
        headers = {"Authorization": str(authorization)} if authorization else {}
        session = aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            connector=aiohttp.TCPConnector(limit=self.parallel),
        )
        context.status("connected" if not spool.pending else self._buffering())
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
                await self._send_all(session, context, jobs, requests, destinations)
                spool.commit(batch[-1].seq + 1)
                if self._shown != "connected" and spool.pending <= self.batch_size:
                    self._show(context, "connected")
        finally:
            await session.close()
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
        self,
        session: aiohttp.ClientSession,
        context: RouteContext,
        jobs: list[tuple[Record, int]],
        requests: list[Callable[[Message], tuple[str, str | None]]],
        destinations: list[_Template | None],
    ) -> None:
        """Send every job, ``parallel`` at a time; send again those that
        failed for a passing reason, with backoff, until none are left."""
        gate = asyncio.Semaphore(self.parallel)
        delay = BACKOFF_FIRST

        async def one(record: Record, index: int) -> str | None:
            """None when done (sent or dead-lettered), else why it failed."""
            event = self.events[index]
            message = Message(record.topic, record.payload, record.at)
            try:
                url, body = requests[index](message)
                async with gate:
                    answer = await _send(session, event.method, url, body)
            except (_Refused, BadValue) as exc:
                self._dead_letter(context, record, event.name, str(exc))
                return None
            except _Failed as exc:
                return str(exc)
            self.sent += 1
            target = destinations[index]
            if target is not None:
                try:
                    context.publish(target.fill(message), answer)
                except BadValue as exc:
                    self._dead_letter(context, record, event.name, str(exc))
            return None

        pending = jobs
        while pending:
            outcomes = await asyncio.gather(*(one(r, i) for r, i in pending))
            failed = [
                (job, why) for job, why in zip(pending, outcomes, strict=True) if why
            ]
            if not failed:
                if self._shown.startswith("buffering"):
                    log.info("route %s: the API is back", self.name)
                    self._show(context, "connected")
                return
            if not self._shown.startswith("buffering"):
                log.warning(
                    "route %s: the API did not answer (%s); keeping messages "
                    "in the spool",
                    self.name,
                    failed[0][1],
                )
            self._show(context, self._buffering())
            await self._pause(context, delay)
            delay = min(delay * 2, BACKOFF_CAP)
            pending = [job for job, _ in failed]

    def _base(self, context: RouteContext) -> str:
        """The base address, with a scheme (https with USE_SSL) when it was
        written without one."""
        written = str(context.resolve(self.settings["base_address"]) or "")
        written = written.strip().rstrip("/")
        if "://" in written:
            return written
        secure = str(context.resolve(self.settings["use_ssl"])).lower() == "true"
        return ("https://" if secure else "http://") + written

    # -- what the route says

    def _dead_letter(
        self, context: RouteContext, record: Record, event: str, reason: str
    ) -> None:
        self.dead_letters += 1
        letter = {
            "route": self.name,
            "event": event,
            "topic": record.topic,
            "payload": record.payload.decode("utf-8", errors="replace"),
            "reason": reason,
        }
        context.publish(
            f"lot/{context.site}/deadletter/{self.name}",
            json.dumps(letter, ensure_ascii=False, separators=(",", ":")).encode(),
        )
        key = (event, reason.split(":")[0])
        level = logging.DEBUG if key in self._logged else logging.WARNING
        self._logged.add(key)
        log.log(
            level,
            "route %s: event %s: a message on %s went to the dead-letter topic: %s",
            self.name,
            event,
            record.topic,
            reason,
        )

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


def _request_maker(
    base: str, event: RestEvent, constants: Mapping[str, str]
) -> Callable[[Message], tuple[str, str | None]]:
    """The function giving a message's (URL, body) for ``event``."""
    endpoint = _Template(event.endpoint, constants, lambda value: quote(value, safe=""))
    body = _Template(event.body, constants) if event.body is not None else None

    def make(message: Message) -> tuple[str, str | None]:
        path = endpoint.fill(message)
        if path and not path.startswith(("/", "?")):
            path = "/" + path
        return base + path, body.fill(message) if body else None

    return make


async def _send(
    session: aiohttp.ClientSession, method: str, url: str, body: str | None
) -> bytes:
    """One request; the response body when the status is 2xx."""
    headers = {}
    data = None
    if body is not None:
        data = body.encode()
        headers["Content-Type"] = _content_type(body)
    try:
        # encoded=True: the endpoint's values are percent-encoded already, and
        # requoting would turn a value's %2F back into a path separator.
        target = URL(url, encoded=True)
        async with session.request(
            method, target, data=data, headers=headers
        ) as answer:
            if answer.status >= 500 or answer.status in _TRANSIENT_STATUS:
                raise _Failed(f"HTTP {answer.status} {answer.reason or ''}".strip())
            if not 200 <= answer.status < 300:
                raise _Refused(f"HTTP {answer.status} {answer.reason or ''}".strip())
            content = await answer.content.read(MAX_RESPONSE + 1)
            if len(content) > MAX_RESPONSE:
                raise _Refused(f"the response is larger than {MAX_RESPONSE} bytes")
            return content
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        raise _Failed(_describe(exc)) from exc
    except aiohttp.InvalidURL as exc:
        raise _Refused(f"not a URL: {exc}") from exc
    except aiohttp.ClientError as exc:
        raise _Refused(_describe(exc)) from exc


def _content_type(body: str) -> str:
    try:
        json.loads(body)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text[:160]}" if text else name


# ------------------------------------------------------------------ server


class RestServerRoute:
    """A REST_API route that serves HTTP on ``port``; see the module docstring."""

    def __init__(
        self,
        *,
        name: str,
        port: Setting,
        events: Sequence[RestEvent],
        authorization: Setting = None,
        host: Setting = "0.0.0.0",
        topics_kept: int = 10_000,
    ) -> None:
        self.name = name
        self.events = tuple(events)
        self.filters = tuple(
            dict.fromkeys(
                e.source
                for e in self.events
                if e.source and e.method in ("GET", "HEAD")
            )
        )
        self.settings: dict[str, Setting] = {
            "port": port,
            "host": host,
            "authorization": authorization,
        }
        self.topics_kept = topics_kept
        self.requests = 0
        # Filter -> topic -> the last payload published there.
        self._latest: dict[str, dict[str, bytes]] = {f: {} for f in self.filters}
        self._dispatcher: Dispatcher[str] = Dispatcher()
        for topic_filter in self.filters:
            self._dispatcher.add(topic_filter, topic_filter)
        self._by_path: dict[str, dict[str, RestEvent]] = {}
        for event in self.events:
            self._by_path.setdefault(event.endpoint, {})[event.method] = event
        self._context: RouteContext | None = None
        self._authorization = ""

    def deliver(self, topic: str, payload: bytes) -> None:
        for topic_filter, _ in self._dispatcher.lookup(topic):
            kept = self._latest[topic_filter]
            if topic not in kept and len(kept) >= self.topics_kept:
                continue  # a bound on memory; the topics kept so far stay
            kept[topic] = payload

    async def run(self, context: RouteContext) -> None:
        self._context = context
        self._authorization = str(context.resolve(self.settings["authorization"]) or "")
        host = str(context.resolve(self.settings["host"]))
        port = int(str(context.resolve(self.settings["port"])))
        app = web.Application(client_max_size=MAX_REQUEST)
        app.router.add_route("*", "/{path:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, reuse_address=True)
            await site.start()
            context.status(f"serving on {host}:{port}")
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self._authorization and not hmac.compare_digest(
            request.headers.get("Authorization", "").encode(),
            self._authorization.encode(),
        ):
            return web.json_response({"error": "unauthorized"}, status=401)
        methods = self._by_path.get(request.path)
        if methods is None:
            return web.json_response({"error": "no such endpoint"}, status=404)
        event = methods.get(request.method) or (
            methods.get("GET") if request.method == "HEAD" else None
        )
        if event is None:
            return web.json_response(
                {"error": "method not allowed"},
                status=405,
                headers={"Allow": ", ".join(sorted(methods))},
            )
        if event.destination and request.method not in ("GET", "HEAD"):
            body = await request.read()
            assert self._context is not None
            self._context.publish(event.destination, body)
            return web.json_response({"published": event.destination}, status=202)
        if event.source:
            return self._latest_value(event.source)
        return web.json_response({"error": "nothing to answer"}, status=404)

    def _latest_value(self, source: str) -> web.Response:
        kept = self._latest.get(source, {})
        if not _WILDCARD.search(source):
            payload = kept.get(source)
            if payload is None:
                return web.Response(status=204)
            return web.Response(body=payload, content_type=_payload_type(payload))
        values = {
            topic: _json_value(payload) for topic, payload in sorted(kept.items())
        }
        return web.json_response(values)


def _payload_type(payload: bytes) -> str:
    try:
        json.loads(payload)
    except ValueError:
        return "text/plain"
    return "application/json"


def _json_value(payload: bytes) -> Any:
    """A payload as it goes into a JSON answer: its JSON value, else text."""
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", errors="replace")
