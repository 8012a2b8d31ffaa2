"""What the device routes (Modbus, OPC UA, S7, BACnet, Logix, ADS) share: value text,
change filters, reconnect delays, the outage bookkeeping that logs each
outage once, the queue of commands written to the device, and
``DeviceRoute``, the life of a device route around its protocol (connect,
serve until the link fails, say so once, retry with backoff).

A device route publishes a tag's value as LoT text (``values.text``) after
scaling.  Numbers are first rounded to what the device actually said: a
FLOAT32 to the shortest decimal that reads back as the same 32-bit float
(21.7, not 21.700000762939453), anything else to 15 significant digits, so
that scaling an integer by 0.1 publishes 21.7 and not 21.700000000000003.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import struct
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from lot_runtime import values

from . import RouteContext, Setting

__all__ = [
    "Backoff",
    "ChangeFilter",
    "Commands",
    "DeviceRoute",
    "DeviceTag",
    "Outage",
    "payload_of",
    "publishable",
    "quiet_driver_logs",
    "reason",
    "repeat",
    "scaled",
    "shortest_float32",
    "tag_number",
    "tidy_number",
    "typed_command",
    "command_flag",
    "unscaled",
]

log = logging.getLogger("lot")

# Reconnect delays of a device route: 0.5 s doubling to 10 s, each times a
# random factor in [0.5, 1].  Field devices come back quickly after a power
# cycle, and a poll is cheap, so the cap is lower than the broker's 30 s.
FIRST_DELAY = 0.5
MAX_DELAY = 10.0

_FLOAT32 = struct.Struct("<f")
# Commands waiting to be written to one device; more are dropped with a warning.
_WAITING = 100


class DeviceTag(Protocol):
    """What every protocol's tag has besides its address."""

    @property
    def name(self) -> str: ...
    @property
    def topic(self) -> str: ...
    @property
    def every(self) -> float: ...
    @property
    def scaling(self) -> float: ...
    @property
    def offset(self) -> float: ...
    @property
    def deadband(self) -> float | None: ...
    @property
    def on_change(self) -> bool: ...
    @property
    def decimals(self) -> int | None: ...
    @property
    def writable(self) -> bool: ...
    @property
    def command_topic(self) -> str | None: ...


class Scaled(Protocol):
    """A tag whose values are scaled: published = raw x scaling + offset."""

    @property
    def scaling(self) -> float: ...
    @property
    def offset(self) -> float: ...


class TypedTag(Protocol):
    """A tag whose commands are typed by its IEC 61131 data type name."""

    @property
    def data_type(self) -> str: ...
    @property
    def length(self) -> int: ...
    @property
    def scaling(self) -> float: ...
    @property
    def offset(self) -> float: ...


# Integer data types -> the values they hold.
INTEGER_RANGES = {
    "SINT": (-(2**7), 2**7 - 1),
    "INT": (-(2**15), 2**15 - 1),
    "DINT": (-(2**31), 2**31 - 1),
    "LINT": (-(2**63), 2**63 - 1),
    "USINT": (0, 2**8 - 1),
    "UINT": (0, 2**16 - 1),
    "UDINT": (0, 2**32 - 1),
    "ULINT": (0, 2**64 - 1),
    "BYTE": (0, 2**8 - 1),
    "WORD": (0, 2**16 - 1),
    "DWORD": (0, 2**32 - 1),
    "LWORD": (0, 2**64 - 1),
}


TagT = TypeVar("TagT")
DeviceTagT = TypeVar("DeviceTagT", bound=DeviceTag)


def shortest_float32(value: float) -> float:
    """The double whose shortest text reads back as the float32 ``value``."""
    if not math.isfinite(value):
        return value
    single = _FLOAT32.unpack(_FLOAT32.pack(value))[0]
    for digits in range(1, 10):
        candidate = float(f"{single:.{digits}g}")
        if _FLOAT32.unpack(_FLOAT32.pack(candidate))[0] == single:
            return candidate
    return float(single)


def tidy_number(value: float) -> float:
    """A computed double rounded to 15 significant digits (every decimal of
    15 digits survives the trip through a double), so scaled integers publish
    as the decimals they mean."""
    if not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.15g}")


def scaled(raw: float, scaling: float, offset: float, *, float32: bool) -> float:
    """``raw * scaling + offset``, rounded as the module docstring says."""
    if float32:
        raw = shortest_float32(raw)
    if scaling == 1 and offset == 0:
        return raw
    return tidy_number(raw * scaling + offset)


def tag_number(tag: DeviceTag, raw: float, *, float32: bool) -> float:
    """A number read for ``tag``, scaled and rounded as it is published."""
    number = scaled(raw, tag.scaling, tag.offset, float32=float32)
    if tag.decimals is not None:
        number = round(number, tag.decimals)
    return number


def publishable(value: object) -> object:
    """Integral floats of integer tags stay ints; others pass unchanged."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


class ChangeFilter:
    """Publish on every poll, only on change, or beyond a deadband."""

    __slots__ = ("deadband", "on_change", "_last")

    _UNSET = object()

    def __init__(self, *, on_change: bool = False, deadband: float | None = None):
        self.on_change = on_change or deadband is not None
        self.deadband = deadband
        self._last: object = self._UNSET

    def passes(self, value: object) -> bool:
        """Whether ``value`` should be published; remembers it when it is."""
        if not self.on_change or self._last is self._UNSET:
            self._last = value
            return True
        last = self._last
        if (
            self.deadband is not None
            and isinstance(value, int | float)
            and isinstance(last, int | float)
            and not isinstance(value, bool)
        ):
            changed = abs(value - last) > self.deadband
        else:
            changed = value != last
        if changed:
            self._last = value
        return changed

    def reset(self) -> None:
        """Forget the last value: after a reconnect the first value is news."""
        self._last = self._UNSET


class Backoff:
    """Capped exponential reconnect delays with jitter."""

    def __init__(self, first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def delay(self) -> float:
        current = self._next
        self._next = min(current * 2, self.cap)
        return current * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self._next = self.first


class Outage:
    """Logs an outage once (WARNING) and its end once (INFO)."""

    def __init__(self, route: str, device: str) -> None:
        self.route = route
        self.device = device
        self.down = False

    def failed(self, reason: str) -> None:
        if not self.down:
            self.down = True
            log.warning(
                "route %s: %s unreachable (%s); retrying",
                self.route,
                self.device,
                reason,
            )

    def recovered(self) -> None:
        if self.down:
            self.down = False
            log.info("route %s: %s is back", self.route, self.device)


class Commands(Generic[TagT]):
    """Writes to a device, as they come from the site broker: the tag each
    command topic names, a bounded queue of waiting writes, and warnings that
    are logged once per tag and kind (later ones at DEBUG)."""

    def __init__(self, route: str, device: str, by_topic: dict[str, TagT]) -> None:
        self.route = route
        self.device = device  # "device" or "server", for messages
        self.by_topic = by_topic
        self.queue: asyncio.Queue[tuple[TagT, bytes]] = asyncio.Queue(_WAITING)
        self.connected = False
        self._warned: set[tuple[str, str]] = set()

    def offer(self, topic: str, payload: bytes) -> None:
        """Queue a command; dropped (and warned) while offline or when full."""
        tag = self.by_topic.get(topic)
        if tag is None:
            return
        if not self.connected:
            self.warn_once(
                tag, "offline", f"command dropped: the {self.device} is offline"
            )
            return
        try:
            self.queue.put_nowait((tag, payload))
        except asyncio.QueueFull:
            self.warn_once(
                tag, "full", f"command dropped: {_WAITING} writes are waiting"
            )

    def warn_once(self, tag: TagT, kind: str, text: str) -> None:
        name = getattr(tag, "name", "?")
        if (name, kind) in self._warned:
            log.debug("route %s: tag %s: %s", self.route, name, text)
            return
        self._warned.add((name, kind))
        log.warning("route %s: tag %s: %s", self.route, name, text)


def reason(exc: BaseException) -> str:
    """A short, stable description of a failure, for status and logs."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text[:160]}" if text else name


def payload_of(value: object) -> bytes:
    """The MQTT payload of a published tag value."""
    return values.payload(value)


def quiet_driver_logs(*names: str) -> None:
    """Drivers log every failed request; the route logs each outage once.
    Raise their loggers to CRITICAL unless someone has set a level."""
    for name in names:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.CRITICAL)


async def repeat(every: float, step: Callable[[], Awaitable[None]]) -> None:
    """Run ``step`` now and every ``every`` seconds after; a tick missed
    because a step was slow is skipped, not caught up."""
    loop = asyncio.get_running_loop()
    tick = loop.time()
    while True:
        await step()
        now = loop.time()
        tick += every * max(1, math.ceil((now - tick) / every))
        await asyncio.sleep(tick - now)


class DeviceRoute(Generic[DeviceTagT]):
    """The life of a device route around its protocol.

    A protocol's route subclasses this, sets ``device`` (the word its
    warnings use), ``driver_loggers`` and ``failures`` (the exceptions that
    mean the link is gone), and implements ``describe`` and ``connection``:
    connect, call ``online()`` once the device answers, serve (usually with
    ``serve``) until the link fails by raising one of ``failures``, and
    close the client in its own ``finally``.  ``run`` does the rest: status,
    one log line per outage, reconnect delays, and dropping commands while
    offline.
    """

    device = "device"
    driver_loggers: tuple[str, ...] = ()
    failures: tuple[type[BaseException], ...] = (OSError, TimeoutError)

    def __init__(
        self, name: str, tags: Sequence[DeviceTagT], settings: dict[str, Setting]
    ) -> None:
        self.name = name
        self.tags = tuple(tags)
        self.settings = settings
        by_topic = {
            t.command_topic: t for t in self.tags if t.writable and t.command_topic
        }
        self._commands = Commands(self.name, self.device, by_topic)
        self._warn = self._commands.warn_once
        self.filters = tuple(sorted(by_topic))
        self._changes = {
            t: ChangeFilter(on_change=t.on_change, deadband=t.deadband)
            for t in self.tags
        }
        self._context: RouteContext | None = None
        self._outage = Outage(name, self.device)
        self._backoff = Backoff()

    # -- for the protocol

    @property
    def context(self) -> RouteContext:
        """The site's context; ``run`` sets it before any connection."""
        if self._context is None:
            raise RuntimeError(f"route {self.name} is not running")
        return self._context

    def describe(self, resolved: Mapping[str, Setting]) -> str:
        """The device as the outage log line names it."""
        return self.device

    async def connection(self, resolved: Mapping[str, Setting]) -> None:
        """One connection's whole life; see the class docstring."""
        raise NotImplementedError

    def by_period(
        self, tags: Sequence[DeviceTagT] | None = None
    ) -> list[tuple[float, list[DeviceTagT]]]:
        """The tags (all of the route's by default) grouped by poll period,
        shortest period first."""
        chosen = self.tags if tags is None else tags
        periods = sorted({t.every for t in chosen})
        return [(every, [t for t in chosen if t.every == every]) for every in periods]

    def online(self) -> None:
        """The device answered: accept commands, end the outage, publish the
        next value of every tag whatever the change filter says."""
        self._commands.connected = True
        self._outage.recovered()
        self._backoff.reset()
        for change in self._changes.values():
            change.reset()
        if self._context is not None:
            self._context.status("connected")

    async def serve(self, *work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` side by side until one of them ends or fails; then
        cancel the others and raise what ended it."""
        tasks = [asyncio.create_task(w) for w in work]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def changed(self, tag: DeviceTagT, value: object, force: bool = False) -> bool:
        """Whether ``value`` passes the tag's change filter (``force``: the
        value read back after a write always does)."""
        change = self._changes[tag]
        if force:
            change.reset()
        return change.passes(value)

    def publish_value(
        self, tag: DeviceTagT, value: object, force: bool = False
    ) -> None:
        """Publish a tag's value on its topic, when the change filter lets it."""
        if self.changed(tag, value, force) and self._context is not None:
            self._context.publish(tag.topic, values.payload(value))

    # -- the site side

    def deliver(self, topic: str, payload: bytes) -> None:
        self._commands.offer(topic, payload)

    async def run(self, context: RouteContext) -> None:
        quiet_driver_logs(*self.driver_loggers)
        self._context = context
        resolved = {k: context.resolve(v) for k, v in self.settings.items()}
        self._outage = Outage(self.name, self.describe(resolved))
        context.status("connecting")
        while True:
            try:
                await self.connection(resolved)
            except self.failures as exc:
                self._outage.failed(reason(exc))
                context.status(f"disconnected: {reason(exc)}")
            finally:
                self._commands.connected = False
            await asyncio.sleep(self._backoff.delay())


def typed_command(tag: TypedTag, payload: bytes) -> bool | int | float | str:
    """The value a command payload asks ``tag`` to hold.  BOOL takes
    true/false/1/0/on/off; STRING its text (at most ``tag.length``
    characters); numbers are unscaled (``(value - offset) / scaling``),
    rounded for integer types and checked against the type's range."""
    text = payload.decode("utf-8", errors="replace").strip()
    if tag.data_type == "BOOL":
        return command_flag(text)
    if tag.data_type == "STRING":
        if len(text) > tag.length:
            raise ValueError(f"longer than the STRING's {tag.length} characters")
        return text
    raw = unscaled(tag, tag.data_type, text)
    if tag.data_type in ("REAL", "LREAL"):
        return float(raw)
    try:
        whole = round(raw)
    except (OverflowError, ValueError):
        raise ValueError(f"{text} does not fit {tag.data_type}") from None
    low, high = INTEGER_RANGES[tag.data_type]
    if not low <= whole <= high:
        raise ValueError(f"{text} does not fit {tag.data_type}")
    return whole


def command_flag(text: str) -> bool:
    """A BOOL command: true/false, 1/0 or on/off, in any case."""
    flag = {"true": True, "1": True, "on": True}.get(text.lower())
    if flag is None and text.lower() not in ("false", "0", "off"):
        raise ValueError("not a BOOL")
    return bool(flag)


def unscaled(tag: Scaled, data_type: str, text: str) -> int | float:
    """The raw value a numeric command asks for: ``(value - offset) /
    scaling``, exact for integers without scaling, even beyond 2**53."""
    number = values.number(text)
    if number is None or tag.scaling == 0:
        raise ValueError(f"not a number for {data_type}")
    if isinstance(number, int) and tag.scaling == 1 and float(tag.offset).is_integer():
        return number - int(tag.offset)
    return (number - tag.offset) / tag.scaling
