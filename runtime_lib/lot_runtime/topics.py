"""MQTT topic filters: matching plans, the wildcard fill rule and dispatch.

A filter is split once into a `Plan`; matching a topic then compares levels
without re-parsing. A `Dispatcher` maps a concrete topic to the handlers whose
filter matches it, remembering the answer per topic (topics repeat far more
often than they change).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Dispatcher", "InvalidTopic", "Plan", "fill", "matches", "publishable"]

T = TypeVar("T")


class InvalidTopic(ValueError):
    """A topic that a message cannot be published on."""


def publishable(topic: str) -> bool:
    """Whether ``topic`` names one topic MQTT lets a client publish on: not
    empty, no wildcard, no NUL, at most 65,535 bytes of UTF-8.  Topics
    computed from payloads can be none of these, and a broker drops the
    client that publishes on one."""
    if not topic or "+" in topic or "#" in topic or "\0" in topic:
        return False
    # Four bytes a character at most: only a long topic needs encoding.
    return len(topic) <= 16_383 or len(topic.encode("utf-8", "replace")) <= 65_535


# How many distinct topics a dispatcher remembers before it starts afresh.
_MEMO_LIMIT = 50_000


@dataclass(frozen=True, slots=True)
class Plan:
    """A filter split into levels: `match` gives the `+` captures or None."""

    filter: str
    levels: tuple[str, ...]
    multi: bool  # ends in '#'
    dollar_guard: bool  # a leading wildcard never matches a '$' topic

    @classmethod
    def of(cls, topic_filter: str) -> Plan:
        levels = tuple(topic_filter.split("/"))
        multi = levels[-1] == "#"
        if multi:
            levels = levels[:-1]
        first = topic_filter[:1]
        return cls(topic_filter, levels, multi, first in ("+", "#"))

    def match(self, topic: str) -> tuple[str, ...] | None:
        """The levels matched by each `+`, in order, or None when no match."""
        if self.dollar_guard and topic.startswith("$"):
            return None
        parts = topic.split("/")
        n = len(self.levels)
        if self.multi:
            # 'a/#' also matches 'a' itself.
            if len(parts) < n:
                return None
        elif len(parts) != n:
            return None
        captures: list[str] = []
        for want, got in zip(self.levels, parts, strict=False):
            if want == "+":
                captures.append(got)
            elif want != got:
                return None
        return tuple(captures)


def matches(topic_filter: str, topic: str) -> bool:
    return Plan.of(topic_filter).match(topic) is not None


def fill(target: str, captures: Sequence[str]) -> str:
    """The wildcard fill rule: the n-th `+` level of target takes captures[n]."""
    if "+" not in target:
        return target
    levels, holes = _fill_plan(target)
    filled = list(levels)
    for i, capture in zip(holes, captures, strict=False):
        filled[i] = capture
    return "/".join(filled)


@functools.lru_cache(maxsize=1024)
def _fill_plan(target: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """A target split once: its levels and where its `+` levels are."""
    levels = tuple(target.split("/"))
    return levels, tuple(i for i, level in enumerate(levels) if level == "+")


class Dispatcher(Generic[T]):
    """Routes a topic to every (handler, captures) whose filter matches it."""

    def __init__(self) -> None:
        self._routes: list[tuple[Plan, T]] = []
        self._memo: dict[str, list[tuple[T, tuple[str, ...]]]] = {}

    def add(self, topic_filter: str, handler: T) -> None:
        self._routes.append((Plan.of(topic_filter), handler))
        self._memo.clear()

    @property
    def filters(self) -> list[str]:
        """Every filter once, in the order first added."""
        return list(dict.fromkeys(plan.filter for plan, _ in self._routes))

    def lookup(self, topic: str) -> list[tuple[T, tuple[str, ...]]]:
        found = self._memo.get(topic)
        if found is not None:
            return found
        found = []
        for plan, handler in self._routes:
            captures = plan.match(topic)
            if captures is not None:
                found.append((handler, captures))
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[topic] = found
        return found
