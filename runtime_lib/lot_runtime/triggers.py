"""Triggers of an action and the timers that fire the time-based ones.

`OnTopic` and `OnChange` are driven by messages (the runner subscribes to
their filters); `Every`, `Weekly`, `Daily` and `Once` by `run_timer`, which
calls a synchronous function at each due moment; `OnStart` once after the
site is connected and subscribed. `Every` keeps a fixed grid on the monotonic
clock (tick k at start + k x period, the first one period after start) and
skips ticks that pass while the loop is busy. Calendar triggers use the
device's local time zone.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

__all__ = [
    "Daily",
    "Every",
    "OnChange",
    "OnStart",
    "OnTopic",
    "Once",
    "Weekly",
    "next_calendar_time",
    "run_timer",
]

log = logging.getLogger("lot")

# Calendar timers re-check the wall clock at least this often (seconds), so a
# clock step or a suspended device does not leave a timer sleeping for days.
_WALL_CLOCK_CHECK = 30.0


@dataclass(frozen=True, slots=True)
class OnTopic:
    filter: str


@dataclass(frozen=True, slots=True)
class OnChange:
    """Fires for the first message on each concrete topic, then on new bytes."""

    filter: str


@dataclass(frozen=True, slots=True)
class Every:
    seconds: float

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError("Every needs a positive period")


def _parse_at(at: str) -> time:
    parts = [int(p) for p in at.strip().split(":")]
    if not 2 <= len(parts) <= 3:
        raise ValueError(f"expected HH:MM or HH:MM:SS, got {at!r}")
    return time(*parts)


@dataclass(frozen=True, slots=True)
class Weekly:
    """At `at` on a weekday (0 = Monday) or on each weekday of a tuple."""

    weekday: int | tuple[int, ...]
    at: str

    @property
    def weekdays(self) -> tuple[int, ...]:
        return (self.weekday,) if isinstance(self.weekday, int) else self.weekday

    def __post_init__(self) -> None:
        if not self.weekdays or not all(0 <= d <= 6 for d in self.weekdays):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        _parse_at(self.at)


@dataclass(frozen=True, slots=True)
class Daily:
    at: str

    def __post_init__(self) -> None:
        _parse_at(self.at)


@dataclass(frozen=True, slots=True)
class Once:
    """One moment (a datetime or ISO 8601 text; without a zone it is local time).

    A moment in the past never fires.
    """

    when: datetime | str

    @property
    def moment(self) -> datetime:
        when = self.when
        return datetime.fromisoformat(when) if isinstance(when, str) else when

    def __post_init__(self) -> None:
        self.moment  # noqa: B018 - a bad ISO text fails at import, not at run time


@dataclass(frozen=True, slots=True)
class OnStart:
    pass


Timer = Every | Weekly | Daily | Once


def next_calendar_time(
    trigger: Weekly | Daily | Once, now: datetime
) -> datetime | None:
    """The next local moment strictly after `now` when trigger fires, if any."""
    now = now.astimezone()
    if isinstance(trigger, Once):
        when = trigger.when
        assert isinstance(when, datetime)  # text is parsed on construction
        when = when.astimezone() if when.tzinfo else when.replace(tzinfo=now.tzinfo)
        return when if when > now else None
    at = _parse_at(trigger.at)
    day = now.date()
    for offset in range(8):
        candidate_day = day + timedelta(days=offset)
        if (
            isinstance(trigger, Weekly)
            and candidate_day.weekday() not in trigger.weekdays
        ):
            continue
        candidate = datetime.combine(candidate_day, at).astimezone()
        if candidate > now:
            return candidate
    return None


async def run_timer(trigger: Timer, fire: Callable[[], object]) -> None:
    """Call `fire` at every due moment of `trigger` until cancelled."""
    if isinstance(trigger, Every):
        await _every(trigger.seconds, fire)
    else:
        await _calendar(trigger, fire)


async def _every(period: float, fire: Callable[[], object]) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    k = 1
    while True:
        await asyncio.sleep(max(0.0, start + k * period - loop.time()))
        fire()
        # The next tick on the grid that is still ahead: ticks that passed
        # while the action ran are skipped, never queued.
        k = max(k + 1, math.floor((loop.time() - start) / period) + 1)


async def _calendar(trigger: Weekly | Daily | Once, fire: Callable[[], object]) -> None:
    while True:
        due = next_calendar_time(trigger, datetime.now().astimezone())
        if due is None:
            return
        log.debug("next %s at %s", type(trigger).__name__, due.isoformat())
        while (wait := (due - datetime.now().astimezone()).total_seconds()) > 0:
            await asyncio.sleep(min(wait, _WALL_CLOCK_CHECK))
        fire()
        if isinstance(trigger, Once):
            return
