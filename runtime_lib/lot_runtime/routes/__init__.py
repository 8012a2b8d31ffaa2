"""Routes: the site's connections to databases, devices and other brokers.

A route is an object with a ``name``, the ``filters`` it reads on the site's
own broker, a synchronous ``deliver(topic, payload)`` that the runner calls
inline for each matching message (it must only hand the message over, never
wait), and ``async run(context)``, the route's whole life, cancelled when the
site stops.  A route that cares whether a message was retained declares a
keyword ``retain: bool = False`` on ``deliver``; the runner sees it in the
signature and passes the flag (the publisher's, see ``lot_runtime.mqtt``).
Routes without it are called with the topic and payload alone.  A route
that buffers what ``deliver`` took (to write it to disk in one call) has a
``flush()``, which the runner calls after each read from the broker and
before the site acknowledges those messages.  The
``RouteContext`` gives a route what it may use of the site: publishing on
the site broker, its status topic, resolved configuration values, and a
private folder for durable state.  A route that forwards messages elsewhere
(a bridge) can hold the acknowledgement of the message being delivered
(``hold``, then ``release`` once the other side took it) and be told when
the site broker answered one it published (``publish(..., on_done=...)``).

Configuration values that come from ``GET ENV`` / ``GET SECRET`` are written
in generated code as ``Env("NAME")`` / ``Secret("NAME")`` and resolved once,
at start, with ``context.resolve``.  Driver code lives in one module per
route family (``postgres``, ``mysql``, ``modbus``, ``opcua``, ``s7``,
``bacnet``, ``logix``, ``ads``, ``rest``, ``mail``, ``files``, ``bridge``),
each importing its optional dependency only there, so a site pays only for
the extras it uses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = ["Env", "Route", "RouteContext", "Secret", "Setting"]

log = logging.getLogger("lot")


@dataclass(frozen=True, slots=True)
class Env:
    """A configuration value read from the environment at start."""

    name: str


@dataclass(frozen=True, slots=True)
class Secret:
    """A configuration value read from the secrets at start; never logged."""

    name: str


Setting = str | int | float | bool | Env | Secret | None


@runtime_checkable
class Route(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def filters(self) -> tuple[str, ...]: ...

    def deliver(self, topic: str, payload: bytes) -> None: ...

    async def run(self, context: RouteContext) -> None: ...


# publish(topic, payload, qos, retain[, on_done]): the site connection's send.
Publish = Callable[..., None]


class RouteContext:
    """What the runner lends one route."""

    def __init__(
        self,
        *,
        site: str,
        route: str,
        publish: Publish,
        qos: int,
        env: Mapping[str, str],
        secrets: Mapping[str, str],
        state_dir: Path | None,
        hold: Callable[[], object | None] = lambda: None,
        release: Callable[[Any], None] = lambda ticket: None,
        online: Callable[[], bool] = lambda: True,
    ) -> None:
        self.site = site
        self.route = route
        self.qos = qos
        self.hold = hold
        self.release = release
        self._online = online
        self._publish = publish
        self._env = env
        self._secrets = secrets
        self._state_dir = state_dir
        self._status: str | None = None

    @property
    def status_topic(self) -> str:
        return f"lot/{self.site}/routes/{self.route}/status"

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int | None = None,
        retain: bool = False,
        on_done: Callable[[bool], None] | None = None,
    ) -> None:
        """Publish on the site's own broker (queued; never blocks).

        ``on_done`` is told whether the broker answered (see
        ``lot_runtime.mqtt.Connection.send``)."""
        qos = self.qos if qos is None else qos
        if on_done is None:
            self._publish(topic, payload, qos, retain)
        else:
            self._publish(topic, payload, qos, retain, on_done)

    @property
    def online(self) -> bool:
        """Whether the site's broker connection is up and subscribed."""
        return self._online()

    def status(self, text: str) -> None:
        """Publish the route's state, retained, and log it once per change."""
        if text == self._status:
            return
        self._status = text
        log.info("route %s: %s", self.route, text)
        self._publish(self.status_topic, text.encode(), 1, True)

    def resolve(self, value: Setting) -> Setting:
        """A configuration value with Env / Secret replaced by its text."""
        if isinstance(value, Env):
            return self._env.get(value.name, "")
        if isinstance(value, Secret):
            return self._secrets.get(value.name, "")
        return value

    def state_dir(self) -> Path:
        """A folder of this route's own under LOT_STATE_DIR (created on use);
        without LOT_STATE_DIR, under ``~/.local/state/lot``."""
        base = self._state_dir or Path.home() / ".local" / "state" / "lot"
        folder = base / _safe(self.site) / _safe(self.route)
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "_"
