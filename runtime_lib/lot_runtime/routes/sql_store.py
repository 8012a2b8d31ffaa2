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

import datetime as dt
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from . import Setting
from .sql_spool import Record
from .sql_values import (
    KNOWN_TYPES,
    BadValue,
    Converter,
    JsonValue,
    Message,
    converter,
    text_of,
)

__all__ = [
    "Job",
    "Statements",
    "connect_arguments",
    "describe_error",
    "is_row_error",
    "quote_identifier",
]

_ROW_CLASSES = ("22", "23")  # data exception, integrity constraint violation
_PLACEHOLDER = re.compile(r"\{([^{}\s\"':,]*)\}")
_MAX_IDENTIFIER = 63  # bytes; PostgreSQL would cut a longer name


@dataclass(frozen=True, slots=True)
class Job:
    key: tuple[Any, ...]  # ("sql", event) or ("clean", table, columns)
    event: int
    values: tuple[Any, ...]
    record: Record
    message: Message

    @staticmethod
    def fill(template: str | None, values: Sequence[Any]) -> Any:
        """A parameter's value: the one read, or the template filled in."""
        if template is None:
            return values[0]
        if any(v is None for v in values):
            return None
        return template.format(*(text_of(v) for v in values))

    @staticmethod
    def clean(
        event: int, table: str, data: Any, record: Record, message: Message
    ) -> Job:
        """The row of a CLEAN event: the object's keys are the columns."""
        plain = data.value if isinstance(data, JsonValue) else data
        if not isinstance(plain, dict) or not plain:
            raise BadValue("CLEAN data is not a non-empty JSON object")
        for column in plain:
            _check_identifier(column)
        values = tuple(JsonValue(v) if v is not None else None for v in plain.values())
        return Job(("clean", table, tuple(plain)), event, values, record, message)


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_identifier(name: str) -> None:
    if not name or "\x00" in name or len(name.encode()) > _MAX_IDENTIFIER:
        raise BadValue("CLEAN data has a key that cannot be a column name")


@dataclass(slots=True)
class _Prepared:
    statement: Any
    converters: tuple[Converter, ...]


Publish = Callable[[Job, bytes], None]


class Statements:
    """The prepared statements of one connection, by job key."""

    def __init__(self, connection: Any, sql: Mapping[int, str]) -> None:
        self.connection = connection
        self.sql = sql
        self._prepared: dict[tuple[Any, ...], _Prepared] = {}
        self._text_types: set[int] = set()

    async def execute(
        self, jobs: Sequence[Job], publish: Publish | None
    ) -> list[tuple[Job, str]]:
        """Run jobs of one statement; the ones that failed for their data."""
        prepared = await self._statement(jobs[0])
        failed: list[tuple[Job, str]] = []
        rows: list[tuple[Any, ...]] = []
        kept: list[Job] = []
        for job in jobs:
            try:
                rows.append(_convert(prepared.converters, job.values))
                kept.append(job)
            except BadValue as exc:
                failed.append((job, str(exc)))
        if not rows:
            return failed
        if publish is not None:
            return failed + await self._fetch_each(prepared, kept, rows, publish)
        try:
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
                sql = await self._clean_insert(job)
            else:
                sql = self.sql[job.event]
            prepared = await self._prepare(sql)
            self._prepared[job.key] = prepared
        return prepared

    async def _prepare(self, sql: str) -> _Prepared:
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
        converters = tuple(converter(t.name, t.kind) for t in types)
        return _Prepared(statement, converters)

    async def _clean_insert(self, job: Job) -> str:
        """Create the CLEAN table or its missing columns; the INSERT text."""
        _, table, columns = job.key
        found = await self.connection.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) "
            "AND attnum > 0 AND NOT attisdropped",
            table,
        )
        have = {r["attname"] for r in found}
        types = {c: column_type(v) for c, v in zip(columns, job.values, strict=True)}
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


def column_type(value: Any) -> str:
    """The column type of a CLEAN table, from the first value seen."""
    plain = value.value if isinstance(value, JsonValue) else value
    if isinstance(plain, bool):
        return "boolean"
    if isinstance(plain, int):
        return "bigint"
    if isinstance(plain, float):
        return "double precision"
    if isinstance(plain, (dict, list)):
        return "jsonb"
    return "text"


def _convert(converters: Sequence[Converter], values: Sequence[Any]) -> tuple[Any, ...]:
    """The row of one job; a failure names its parameter (``$2: ...``)."""
    row = []
    for index, (convert, value) in enumerate(zip(converters, values, strict=True)):
        try:
            row.append(convert(value))
        except BadValue as exc:
            raise BadValue(f"${index + 1}: {exc}") from None
    return tuple(row)


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


def rows_json(rows: list[dict[str, Any]]) -> bytes:
    """SELECT rows as a JSON array of objects."""
    return json.dumps(
        rows, default=_json_default, ensure_ascii=False, separators=(",", ":")
    ).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        number = float(value)
        return number if math.isfinite(number) else str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, dt.timedelta)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


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
