"""Statements on one PostgreSQL connection: prepared once, run in batches.

A ``Job`` is one message's row for one event: the statement it runs (its
``key``) and the values read from the message.  ``Statements.execute`` runs
consecutive jobs of one statement: it prepares the statement on first use
(for the CLEAN form, creating the table and any missing column first),
converts each job's values to the types PostgreSQL inferred for the
parameters, and sends the rows with one ``executemany``; when the server
rejects a row for its data, the rows are sent one by one to find it.  It
returns the jobs that failed for their data, with the reason; any other
error propagates (the route keeps the messages and retries).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from . import Setting
from .sql_spool import Record
from .sql_values import (
    KNOWN_TYPES,
    BadValue,
    converter,
    is_json_source,
    row_maker,
    rows_json,
)

__all__ = [
    "Job",
    "Query",
    "Statements",
    "connect_arguments",
    "describe_error",
    "is_row_error",
    "quote_identifier",
]

_ROW_CLASSES = ("22", "23")  # data exception, integrity constraint violation
_MAX_IDENTIFIER = 63  # bytes; PostgreSQL would cut a longer name


class Job:
    """One message's row for one event.  ``values`` are the CLEAN form's
    column values; a QUERY's row is read from the record when it is sent."""

    __slots__ = ("event", "key", "record", "values")

    def __init__(
        self,
        key: tuple[Any, ...],
        event: int,
        record: Record,
        values: tuple[Any, ...] | None = None,
    ) -> None:
        self.key = key
        self.event = event
        self.record = record
        self.values = values

    @staticmethod
    def clean(event: int, table: str, data: Any, record: Record) -> Job:
        """The row of a CLEAN event: the object's keys are the columns."""
        if not isinstance(data, dict) or not data:
            raise BadValue("CLEAN data is not a non-empty JSON object")
        for column in data:
            _check_identifier(column)
        return Job(("clean", table, tuple(data)), event, record, tuple(data.values()))


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_identifier(name: str) -> None:
    if not name or "\x00" in name or len(name.encode()) > _MAX_IDENTIFIER:
        raise BadValue("CLEAN data has a key that cannot be a column name")


@dataclass(slots=True)
class _Prepared:
    statement: Any
    row: Callable[[Job], tuple[Any, ...]]
    copy: _Copy | None = None


@dataclass(frozen=True, slots=True)
class _Copy:
    """A plain ``INSERT INTO t (a, b) VALUES ($1, $2)``, sent as COPY."""

    schema: str | None
    table: str
    columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Query:
    """An event's SQL and, per ``$n``, its placeholders and template."""

    sql: str
    parameters: tuple[tuple[tuple[str, ...], str | None], ...]


Publish = Callable[[Job, bytes], None]


class Statements:
    """The prepared statements of one connection, by job key."""

    def __init__(
        self,
        connection: Any,
        queries: Mapping[int, Query],
        constants: Mapping[str, str],
    ) -> None:
        self.connection = connection
        self.queries = queries
        self.constants = constants
        self._prepared: dict[tuple[Any, ...], _Prepared] = {}
        self._text_types: set[int] = set()

    async def execute(
        self, jobs: Sequence[Job], publish: Publish | None
    ) -> list[tuple[Job, str]]:
        """Run jobs of one statement; the ones that failed for their data."""
        prepared = await self._statement(jobs[0])
        failed: list[tuple[Job, str]] = []
        make = prepared.row
        try:
            rows, kept = [make(job) for job in jobs], list(jobs)
        except BadValue:
            rows, kept = [], []
            for job in jobs:
                try:
                    rows.append(make(job))
                    kept.append(job)
                except BadValue as exc:
                    failed.append((job, str(exc)))
        if not rows:
            return failed
        if publish is not None:
            return failed + await self._fetch_each(prepared, kept, rows, publish)
        try:
            if prepared.copy is not None and len(rows) > 1:
                copy = prepared.copy
                await self.connection.copy_records_to_table(
                    copy.table,
                    schema_name=copy.schema,
                    columns=copy.columns,
                    records=rows,
                )
            else:
                await prepared.statement.executemany(rows)
        except Exception as exc:
            if not is_row_error(exc):
                raise
            failed.extend(await self._one_by_one(prepared, kept, rows))
        return failed

    async def _one_by_one(
        self, prepared: _Prepared, jobs: list[Job], rows: list[tuple[Any, ...]]
    ) -> list[tuple[Job, str]]:
        failed = []
        for job, row in zip(jobs, rows, strict=True):
            try:
                await prepared.statement.executemany([row])
            except Exception as exc:
                if not is_row_error(exc):
                    raise
                failed.append((job, describe_error(exc)))
        return failed

    async def _fetch_each(
        self,
        prepared: _Prepared,
        jobs: list[Job],
        rows: list[tuple[Any, ...]],
        publish: Publish,
    ) -> list[tuple[Job, str]]:
        failed = []
        for job, row in zip(jobs, rows, strict=True):
            try:
                records = await prepared.statement.fetch(*row)
            except Exception as exc:
                if not is_row_error(exc):
                    raise
                failed.append((job, describe_error(exc)))
                continue
            publish(job, rows_json([dict(r.items()) for r in records]))
        return failed

    async def _statement(self, job: Job) -> _Prepared:
        prepared = self._prepared.get(job.key)
        if prepared is None:
            if job.key[0] == "clean":
                prepared = await self._prepare_clean(job)
            else:
                prepared = await self._prepare_query(self.queries[job.event])
            self._prepared[job.key] = prepared
        return prepared

    async def _prepare_query(self, query: Query) -> _Prepared:
        statement, types = await self._prepare(query.sql)
        converters = [
            converter(
                t.name,
                t.kind,
                json_source=template is None and is_json_source(names[0]),
                label=f"${index}",
            )
            for index, (t, (names, template)) in enumerate(
                zip(types, query.parameters, strict=True), 1
            )
        ]
        make = row_maker(query.parameters, self.constants, converters)

        def row(job: Job) -> tuple[Any, ...]:
            record = job.record
            return make(record.topic, record.payload, record.at)

        return _Prepared(statement, row, plain_insert(query.sql))

    async def _prepare_clean(self, job: Job) -> _Prepared:
        statement, types = await self._prepare(await self._clean_insert(job))
        columns = job.key[2]
        converters = [
            converter(t.name, t.kind, json_source=True, label=column)
            for t, column in zip(types, columns, strict=True)
        ]

        def row(job: Job) -> tuple[Any, ...]:
            values = job.values or ()
            return tuple([c(v) for c, v in zip(converters, values, strict=True)])

        return _Prepared(statement, row)

    async def _prepare(self, sql: str) -> tuple[Any, Any]:
        statement = await self.connection.prepare(sql)
        types = statement.get_parameters()
        other = [t for t in types if t.kind == "scalar" and t.name not in KNOWN_TYPES]
        fresh = [t for t in other if t.oid not in self._text_types]
        if fresh:
            # Types without a conversion of ours travel as text, which the
            # server parses with its own input function.
            for kind in fresh:
                await self.connection.set_type_codec(
                    kind.name,
                    schema=kind.schema,
                    encoder=str,
                    decoder=str,
                    format="text",
                )
                self._text_types.add(kind.oid)
            statement = await self.connection.prepare(sql)
        return statement, types

    async def _clean_insert(self, job: Job) -> str:
        """Create the CLEAN table or its missing columns; the INSERT text."""
        _, table, columns = job.key
        found = await self.connection.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) "
            "AND attnum > 0 AND NOT attisdropped",
            table,
        )
        have = {r["attname"] for r in found}
        values = job.values or ()
        types = {c: column_type(v) for c, v in zip(columns, values, strict=True)}
        if not found:
            listed = ", ".join(f"{quote_identifier(c)} {types[c]}" for c in columns)
            await self.connection.execute(
                f"CREATE TABLE IF NOT EXISTS {table} ({listed})"
            )
        else:
            for column in columns:
                if column not in have:
                    await self.connection.execute(
                        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "
                        f"{quote_identifier(column)} {types[column]}"
                    )
        names = ", ".join(quote_identifier(c) for c in columns)
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        return f"INSERT INTO {table} ({names}) VALUES ({marks})"


_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_PLAIN_INSERT = re.compile(
    rf"\s*INSERT\s+INTO\s+(?:({_NAME})\s*\.\s*)?({_NAME})\s*"
    rf"\(\s*({_NAME}(?:\s*,\s*{_NAME})*)\s*\)\s*"
    r"VALUES\s*\(\s*(\$\d+(?:\s*,\s*\$\d+)*)\s*\)\s*;?\s*",
    re.IGNORECASE,
)


def plain_insert(sql: str) -> _Copy | None:
    """The table and columns of an INSERT that COPY can do instead: one row
    of parameters ``$1..$n`` in order, and nothing else (no ON CONFLICT,
    RETURNING, expressions or casts).  COPY runs the same triggers, defaults
    and constraints as INSERT; only rules differ, and tables with rules are
    rare enough that lotc names the difference in the docs."""
    match = _PLAIN_INSERT.fullmatch(sql)
    if not match:
        return None
    schema, table, columns, marks = match.groups()
    names = [c.strip() for c in re.findall(_NAME, columns)]
    numbers = [int(m) for m in re.findall(r"\$(\d+)", marks)]
    if numbers != list(range(1, len(names) + 1)):
        return None
    return _Copy(
        _identifier(schema) if schema else None,
        _identifier(table),
        tuple(_identifier(n) for n in names),
    )


def _identifier(name: str) -> str:
    """An SQL name as the catalogue spells it: unquoted names fold to lower case."""
    if name.startswith('"'):
        return name[1:-1].replace('""', '"')
    return name.lower()


def column_type(value: Any) -> str:
    """The column type of a CLEAN table, from the first value seen."""
    plain = value
    if isinstance(plain, bool):
        return "boolean"
    if isinstance(plain, int):
        return "bigint"
    if isinstance(plain, float):
        return "double precision"
    if isinstance(plain, (dict, list)):
        return "jsonb"
    return "text"


def is_row_error(exc: BaseException) -> bool:
    """Whether the server (or the driver) refused a row for its data."""
    if isinstance(exc, asyncpg.PostgresError):
        return str(getattr(exc, "sqlstate", "") or "")[:2] in _ROW_CLASSES
    # asyncpg's own DataError: a value its codec could not encode.
    return isinstance(exc, asyncpg.InterfaceError) and isinstance(exc, ValueError)


def describe_error(exc: BaseException) -> str:
    """``ExceptionName: first line``: for status, logs and dead letters."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# ------------------------------------------------------------- connecting

_NPGSQL_KEYS = {
    "host": "host",
    "server": "host",
    "data source": "host",
    "port": "port",
    "database": "database",
    "initial catalog": "database",
    "username": "user",
    "user id": "user",
    "user": "user",
    "uid": "user",
    "password": "password",
    "pwd": "password",
    "ssl mode": "sslmode",
    "sslmode": "sslmode",
    "search path": "schema",
}


def connect_arguments(
    settings: Mapping[str, Setting], *, application_name: str
) -> dict[str, Any]:
    """asyncpg.connect arguments from resolved SQL_CONFIG settings.

    CONNECTION_STRING is a URI (``postgresql://...``) or the key=value; form
    of .NET drivers (``Host=h;Port=5432;Username=u;...``); settings written
    next to it win.  SERVER may carry a port (``db.example:5433``).  Without
    a server or a port, ``PGHOST`` / ``PGPORT`` apply, then ``localhost:5432``.
    """
    server: dict[str, Any] = {"application_name": application_name}
    arguments: dict[str, Any] = {
        "timeout": 5.0,
        "command_timeout": 60.0,
        "server_settings": server,
    }
    written: dict[str, Any] = {}
    text = settings.get("connection_string")
    if isinstance(text, str) and text.strip():
        if "://" in text:
            arguments["dsn"] = text.strip()
        else:
            written.update(_key_values(text))
    for key, target in (
        ("server", "host"),
        ("port", "port"),
        ("database", "database"),
        ("username", "user"),
        ("password", "password"),
        ("schema", "schema"),
    ):
        value = settings.get(key)
        if value not in (None, ""):
            written[target] = value
    host = str(written.get("host", ""))
    if host.count(":") == 1 and host.rsplit(":", 1)[1].isdigit():
        # SERVER "db.example:5433", as .NET connection strings allow.
        written["host"], written["port"] = host.rsplit(":", 1)
    if "dsn" not in arguments:
        written.setdefault("host", os.environ.get("PGHOST") or "localhost")
        written.setdefault("port", os.environ.get("PGPORT") or 5432)
    if "port" in written:
        written["port"] = int(str(written["port"]))
    schema = written.pop("schema", None)
    if schema:
        server["search_path"] = str(schema)
    arguments["ssl"] = _ssl(settings, written.pop("sslmode", None), "dsn" in arguments)
    arguments.update(written)
    if arguments["ssl"] is None:
        del arguments["ssl"]
    return arguments


def _key_values(text: str) -> dict[str, str]:
    found = {}
    for part in text.split(";"):
        key, equals, value = part.partition("=")
        target = _NPGSQL_KEYS.get(key.strip().lower())
        if equals and target:
            found[target] = value.strip()
    return found


def _ssl(settings: Mapping[str, Setting], mode: str | None, dsn: bool) -> Any:
    """USE_SSL verifies the server certificate unless TRUST_SERVER_CERTIFICATE."""
    use = _flag(settings.get("use_ssl"))
    if use is None:
        if mode:
            return mode.lower().replace(" ", "-")
        return None if dsn else False
    if not use:
        return False
    return (
        "require" if _flag(settings.get("trust_server_certificate")) else "verify-full"
    )


def _flag(value: Setting) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)
