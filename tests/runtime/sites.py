"""Run a site in-process, on its own event loop in a thread, for tests."""

from __future__ import annotations

import asyncio
import threading
import time

from lot_runtime import Site
from lot_runtime.config import load_settings
from lot_runtime.runner import Runner


class RunningSite:
    """A Runner serving `site` against `url` until `close()`."""

    def __init__(self, site: Site, url: str, environ: dict[str, str] | None = None):
        environ = {"LOT_CLIENT_ID": f"lot-test-{site.name}", **(environ or {})}
        self.settings = load_settings(site, broker=url, environ=environ)
        self.runner = Runner(site, self.settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        self._started.wait(5)
        self.wait_online()

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._started.set()
        await self.runner.run(self._stop)

    @property
    def stats(self):
        return self.runner.state.stats

    def wait_online(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.runner.connection.online:
            if time.monotonic() > deadline:
                raise TimeoutError("the site did not come online")
            time.sleep(0.01)

    def wait_offline(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.runner.connection.online:
            if time.monotonic() > deadline:
                raise TimeoutError("the site did not notice the broker went away")
            time.sleep(0.01)

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        assert not self._thread.is_alive(), "the site did not stop"

    def __enter__(self) -> RunningSite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
