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
    return time(parts[0], parts[1], parts[2] if len(parts) == 3 else 0)


@dataclass(frozen=True, slots=True)
class Weekly:
    """At `at` on each weekday of `weekdays` (0 = Monday; one int is allowed)."""

    weekdays: int | tuple[int, ...]
    at: str

    @property
    def days(self) -> tuple[int, ...]:
        days = self.weekdays
        return (days,) if isinstance(days, int) else days

    def __post_init__(self) -> None:
        days = self.weekdays
        if isinstance(days, int):
            object.__setattr__(self, "weekdays", days := (days,))
        if not days or not all(0 <= d <= 6 for d in days):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        _parse_at(self.at)


@dataclass(frozen=True, slots=True)
class Daily:
    at: str

    def __post_init__(self) -> None:
        _parse_at(self.at)


@dataclass(frozen=True, slots=True)
class Once:
    """One moment: a datetime, or ISO 8601 text parsed here (a bad one fails at
    import, not at run time). Without a zone it is local time. A moment in the
    past never fires.
    """

    when: datetime | str

    def __post_init__(self) -> None:
        if isinstance(self.when, str):
            object.__setattr__(self, "when", datetime.fromisoformat(self.when))


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
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        when = when.astimezone() if when.tzinfo else when.replace(tzinfo=now.tzinfo)
        return when if when > now else None
    at = _parse_at(trigger.at)
    day = now.date()
    for offset in range(8):
        candidate_day = day + timedelta(days=offset)
        if isinstance(trigger, Weekly) and candidate_day.weekday() not in trigger.days:
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
