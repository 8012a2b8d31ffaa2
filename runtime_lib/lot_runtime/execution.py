"""One run of an action (`Execution`) and the site state it reads and writes.

`SiteState` holds what outlives an execution: the site topic cache, env and
secret values, the site's QoS, the sink that sends a message, and failure
counters. `SiteState.execute` runs an action body atomically: publishes and
keeps are buffered and released in order only when the body returns; an
exception abandons them, is counted and logged once per (action, trigger
topic, exception type). While a body runs it is the *current* execution, to
which `values.conversion_failed` reports failed casts.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from . import values
from .topics import InvalidTopic, fill, publishable

__all__ = ["Execution", "SiteState"]

log = logging.getLogger("lot")

Sink = Callable[[str, bytes, int, bool], None]


class Encodes(Protocol):
    @property
    def retain(self) -> bool: ...

    @property
    def qos(self) -> int | None: ...

    def encode(self, run: Execution, values: Mapping[str, Any]) -> bytes: ...


def _drop(topic: str, payload: bytes, qos: int, retain: bool) -> None:
    log.debug("no connection: dropped a message for %s", topic)


class SiteState:
    """The state shared by every execution of a site."""

    def __init__(
        self,
        *,
        qos: int = 1,
        env: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        sink: Sink | None = None,
    ) -> None:
        self.qos = qos
        self.env: dict[str, str] = dict(env or {})
        self.secrets: dict[str, str] = dict(secrets or {})
        self.sink: Sink = sink or _drop
        self.cache: dict[str, str] = {}
        # Counters: "executions", "failures", "conversion_failures".
        self.stats: Counter[str] = Counter()
        self._logged: set[tuple[str, ...]] = set()
        self.current: Execution | None = None
        values.set_failure_reporter(self._conversion_failed)

    def execute(
        self,
        action: str,
        body: Callable[[Execution], object],
        topic: str = "",
        payload: bytes = b"",
        captures: tuple[str, ...] = (),
    ) -> bool:
        """Run one execution of `body`; True when it completed and was released."""
        run = Execution(self, action, topic, payload, captures)
        outer, self.current = self.current, run
        self.stats["executions"] += 1
        try:
            body(run)
        except Exception as exc:
            self._failed(run, exc)
            return False
        finally:
            self.current = outer
        run._release()
        return True

    def _failed(self, run: Execution, exc: Exception) -> None:
        self.stats["failures"] += 1
        self.stats[f"failures:{run.action}"] += 1
        key = ("exception", run.action, run.topic, type(exc).__name__)
        if key in self._logged:
            return
        self._logged.add(key)
        where = f" on {run.topic}" if run.topic else ""
        log.warning(
            "action %s abandoned an execution%s: %s (logged once)",
            run.action,
            where,
            type(exc).__name__,
        )
        log.debug("action %s failed with %r", run.action, exc, exc_info=exc)

    def _conversion_failed(self, type_name: str, value: Any) -> None:
        self.stats["conversion_failures"] += 1
        run = self.current
        topic = run.topic if run else ""
        key = ("conversion", topic, type_name)
        if key in self._logged:
            return
        self._logged.add(key)
        action = run.action if run else "-"
        log.warning(
            "action %s: a value on %s did not convert to %s; using the fallback "
            "(logged once)",
            action,
            topic or "(no topic)",
            type_name,
        )
        log.debug("value that did not convert to %s: %r", type_name, value)


class Execution:
    """What one trigger occurrence sees: its message and its buffered writes."""

    __slots__ = (
        "_levels",
        "_ops",
        "_state",
        "_text",
        "_written",
        "action",
        "captures",
        "payload",
        "topic",
    )

    def __init__(
        self,
        state: SiteState,
        action: str,
        topic: str,
        payload: bytes,
        captures: tuple[str, ...],
    ) -> None:
        self._state = state
        self.action = action
        self.topic = topic
        self.payload = payload
        self.captures = captures
        self._text: str | None = None
        self._levels: list[str] | None = None
        self._ops: list[tuple[str, str, bytes, str, int, bool]] = []
        self._written: dict[str, str] = {}

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8 (invalid bytes replaced)."""
        if self._text is None:
            self._text = self.payload.decode("utf-8", errors="replace")
        return self._text

    def level(self, n: int) -> str:
        """TOPIC POSITION n: the n-th level (1-based); "" past the end."""
        if self._levels is None:
            self._levels = self.topic.split("/")
        if 1 <= n <= len(self._levels):
            return self._levels[n - 1]
        return ""

    def fill(self, topic: str) -> str:
        """The wildcard fill rule against the trigger filter's captures."""
        return fill(topic, self.captures)

    # -- writes (buffered until the body returns)

    def publish(
        self, topic: str, value: Any, *, retain: bool = False, qos: int | None = None
    ) -> None:
        data = values.payload(value)
        level = self._state.qos if qos is None else qos
        self._record("publish", topic, data, level, retain)

    def publish_model(
        self, model: Encodes, topic: str, values: Mapping[str, Any]
    ) -> None:
        self.publish(
            topic, model.encode(self, values), retain=model.retain, qos=model.qos
        )

    def keep(self, topic: str, value: Any) -> None:
        self._record("keep", topic, values.payload(value), 0, False)

    def _record(
        self, kind: str, topic: str, data: bytes, qos: int, retain: bool
    ) -> None:
        if not publishable(topic):
            # Abandons the execution, as any value that breaks it does.
            raise InvalidTopic(f"{kind} to {topic!r}, which is not one topic")
        text = data.decode("utf-8", errors="replace")
        self._ops.append((kind, topic, data, text, qos, retain))
        self._written[topic] = text

    def _release(self) -> None:
        state = self._state
        cache, sink = state.cache, state.sink
        for kind, topic, data, text, qos, retain in self._ops:
            cache[topic] = text
            if kind == "publish":
                sink(topic, data, qos, retain)
        self._ops.clear()

    # -- reads

    def get_topic(self, topic: str) -> str | None:
        """GET TOPIC: this execution's writes, the trigger, the cache, else None."""
        written = self._written.get(topic)
        if written is not None:
            return written
        if topic == self.topic and self.topic:
            return self.text
        return self._state.cache.get(topic)

    def env(self, name: str) -> str:
        return self._state.env.get(name, "")

    def secret(self, name: str) -> str:
        return self._state.secrets.get(name, "")

    def keep_env(self, name: str, value: Any) -> None:
        self._state.env[name] = values.text(value)

    def keep_secret(self, name: str, value: Any) -> None:
        self._state.secrets[name] = values.text(value)

    def delete_env(self, name: str) -> None:
        self._state.env.pop(name, None)

    def delete_secret(self, name: str) -> None:
        self._state.secrets.pop(name, None)
