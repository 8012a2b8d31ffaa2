"""A real HTTP API for integration tests: an aiohttp server on a free port,
in a thread with its own event loop, that records every request and
answers as the test tells it::

    api = HttpApi()
    api.start()
    api.answer("/v1/forecast", status=200, body=b'{"temp": 21}')
    api.answer("/v1/flaky", status=503, times=2)    # then the default
    api.requests                                    # what came, in order
    api.stop(); api.start()                         # same port

Unless told otherwise a path answers 200 with the request's own body
(``echo:`` before it), so a test sees what was sent.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

from aiohttp import web

from .mosquitto import free_port

__all__ = ["HttpApi", "Request"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query, as sent (percent-encoding kept)
    headers: dict[str, str]
    body: bytes


class HttpApi:
    """One aiohttp server that can be stopped and started on its port."""

    host = "127.0.0.1"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[Request] = []
        self._once: dict[str, list[tuple[int, bytes]]] = {}
        self._always: dict[str, tuple[int, bytes]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def answer(self, path: str, *, status: int, body: bytes = b"", times: int = 0):
        """Answer requests on ``path`` with ``status`` and ``body``: the next
        ``times`` of them, or all of them when ``times`` is 0."""
        with self._lock:
            if times:
                self._once.setdefault(path, []).extend([(status, body)] * times)
            else:
                self._always[path] = (status, body)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        with self._lock:
            return list(self.requests)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.requests.append(
                Request(request.method, request.raw_path, dict(request.headers), body)
            )
            queue = self._once.get(request.path)
            answer = queue.pop(0) if queue else self._always.get(request.path)
        if answer is None:
            return web.Response(body=b"echo:" + body)
        status, text = answer
        return web.Response(status=status, body=text)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._ready.clear()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve()), daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the HTTP API did not start")

    def stop(self) -> None:
        """Close the listening socket and every connection."""
        if self._thread is None:
            return
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> HttpApi:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
