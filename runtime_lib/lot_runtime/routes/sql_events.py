"""The events of the SQL routes (PostgreSQL, MySQL, MariaDB), as lotc writes
them: a query with its placeholders bound as parameters, or the CLEAN form
that inserts a JSON object's keys as columns.  Plain data, shared by the
routes so that the same lowering serves each database."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CleanEvent", "Event", "SqlEvent", "SqlParameter"]


@dataclass(frozen=True, slots=True)
class SqlParameter:
    """``$n`` of a query: the placeholders it binds and, for a literal with
    other text around them, the ``template`` they are formatted into."""

    placeholders: tuple[str, ...]
    template: str | None = None


@dataclass(frozen=True, slots=True)
class SqlEvent:
    """``ADD EVENT``: messages on ``source`` run ``sql`` (``$1``... bound to
    ``parameters``); with a ``destination``, the rows it returns are
    published there as a JSON array of objects."""

    name: str
    source: str
    sql: str
    parameters: tuple[SqlParameter, ...] = ()
    destination: str | None = None


@dataclass(frozen=True, slots=True)
class CleanEvent:
    """``QUERY "CLEAN:{table: t, data: {value.json}}"``: the object's keys
    are columns of ``table``, created when missing."""

    name: str
    source: str
    table: str
    data: str = "value.json"


Event = SqlEvent | CleanEvent
