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

Messages wait in a disk spool (``spooled.SpooledSender``), so an API that
is down or slow loses nothing: the requests of a batch go out ``parallel``
at a time, and those that fail for a reason that may pass (no connection, a
timeout, HTTP 408, 425, 429 or 5xx) are sent again with capped backoff
until they get an answer; only then does the spool move on.  A request the
API refuses (any other status), a response above ``MAX_RESPONSE`` bytes, or
a message whose placeholders cannot be filled goes to
``lot/<site>/deadletter/<route>`` with the reason, and the route goes on.
Delivery is at least once.

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
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from yarl import URL

from ..topics import Dispatcher, publishable
from . import RouteContext, Setting
from .spooled import (
    Refuse,
    Retry,
    SpooledSender,
    Template,
    constants_of,
    describe,
    placeholder_names,
)
from .sql_values import Message

__all__ = ["MAX_RESPONSE", "RestClientRoute", "RestEvent", "RestServerRoute"]

log = logging.getLogger("lot")

MAX_RESPONSE = 16 * 2**20  # bytes of a response body that is published
MAX_REQUEST = 2**20  # bytes of a request body the server takes
_TRANSIENT_STATUS = frozenset({408, 425, 429})
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


class RestClientRoute(SpooledSender):
    """A REST_API route that calls ``base_address``; see the module docstring."""

    far_side = "the API"

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
        self.events = tuple(e for e in events if e.source)
        super().__init__(
            name,
            [e.source for e in self.events],
            parallel=parallel,
            batch_size=batch_size,
            spool_limit=spool_limit,
            spool_memory=spool_memory,
        )
        self.settings: dict[str, Setting] = {
            "base_address": base_address,
            "authorization": authorization,
            "use_ssl": use_ssl,
        }
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._requests: list[Callable[[Message], tuple[str, str | None]]] = []
        self._destinations: list[Template | None] = []

    def event_name(self, event: int) -> str:
        return self.events[event].name

    async def open(self, context: RouteContext) -> None:
        texts = [e.endpoint for e in self.events] + [e.body for e in self.events]
        texts += [e.destination for e in self.events]
        constants = constants_of(placeholder_names(texts), context)
        base = self._base(context)
        self._requests = [_request_maker(base, e, constants) for e in self.events]
        self._destinations = [
            Template(e.destination, constants) if e.destination else None
            for e in self.events
        ]
        authorization = context.resolve(self.settings["authorization"])
        headers = {"Authorization": str(authorization)} if authorization else {}
        self._session = aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            connector=aiohttp.TCPConnector(limit=self.parallel),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, event: int, message: Message, context: RouteContext) -> None:
        assert self._session is not None
        url, body = self._requests[event](message)
        target = self._destinations[event]
        # The answer's topic before the request: a message that cannot
        # name one is refused without calling the API at all.
        topic = target.fill(message) if target is not None else None
        if topic is not None and not publishable(topic):
            raise Refuse(f"`{topic}` is not a topic to publish the answer on")
        answer = await _send(self._session, self.events[event].method, url, body)
        if topic is not None:
            context.publish(topic, answer)

    def _base(self, context: RouteContext) -> str:
        """The base address, with a scheme (https with USE_SSL) when it was
        written without one."""
        written = str(context.resolve(self.settings["base_address"]) or "")
        written = written.strip().rstrip("/")
        if "://" in written:
            return written
        secure = str(context.resolve(self.settings["use_ssl"])).lower() == "true"
        return ("https://" if secure else "http://") + written


def _request_maker(
    base: str, event: RestEvent, constants: Mapping[str, str]
) -> Callable[[Message], tuple[str, str | None]]:
    """The function giving a message's (URL, body) for ``event``."""
    endpoint = Template(event.endpoint, constants, lambda value: quote(value, safe=""))
    body = Template(event.body, constants) if event.body is not None else None

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
        headers["Content-Type"] = (
            "application/json" if _is_json(body) else "text/plain; charset=utf-8"
        )
    try:
        # encoded=True: the endpoint's values are percent-encoded already, and
        # requoting would turn a value's %2F back into a path separator.
        target = URL(url, encoded=True)
        async with session.request(
            method, target, data=data, headers=headers
        ) as answer:
            if answer.status >= 500 or answer.status in _TRANSIENT_STATUS:
                raise Retry(f"HTTP {answer.status} {answer.reason or ''}".strip())
            if not 200 <= answer.status < 300:
                raise Refuse(f"HTTP {answer.status} {answer.reason or ''}".strip())
            # The whole body, never more than the limit: one read() returns
            # only what has arrived, which would publish a part of it.
            chunks: list[bytes] = []
            size = 0
            async for chunk in answer.content.iter_chunked(2**16):
                size += len(chunk)
                if size > MAX_RESPONSE:
                    raise Refuse(f"the response is larger than {MAX_RESPONSE} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        raise Retry(describe(exc)) from exc
    except aiohttp.InvalidURL as exc:
        raise Refuse(f"not a URL: {exc}") from exc
    except aiohttp.ClientError as exc:
        raise Refuse(describe(exc)) from exc


def _is_json(data: str | bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


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
            kind = "application/json" if _is_json(payload) else "text/plain"
            return web.Response(body=payload, content_type=kind)
        values = {
            topic: _json_value(payload) for topic, payload in sorted(kept.items())
        }
        return web.json_response(values)


def _json_value(payload: bytes) -> Any:
    """A payload as it goes into a JSON answer: its JSON value, else text."""
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", errors="replace")
