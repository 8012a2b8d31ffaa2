"""MYSQL and MARIADB routes over aiomysql: statements from messages, spooled.

``MysqlRoute`` runs, for each message on an event's ``source`` filter, the
event's statement on one connection (autocommit): a ``SqlEvent``'s SQL with
each ``%s`` bound to a value read from the message (the driver escapes it;
lotc doubled every ``%`` of the SQL itself), or, for a ``CleanEvent``, an
INSERT of the JSON object's keys as columns of its table, creating the
table (with an ``id`` key) or a missing column first.  Consecutive messages
of an INSERT whose rows nobody waits for go together, in one multi-row
INSERT.  With a ``destination`` the rows a statement returns are published
there as a JSON array of objects.

MySQL does not say which type a parameter wants, so values go as they are
read: numbers, booleans and strings of JSON as those, other placeholders
as text, timestamps as UTC date-times; the server converts them to the
column's type, and refuses one that does not fit.

Messages go through the spool and retry loop of ``spooled.SpooledSender``:
an unreachable server, a lost connection or a statement the server refuses
(a table that is not there yet, say) keep the messages, retried with
backoff and shown on the status topic; a message whose values the server
refuses for their data (MySQL's errors of SQLSTATE classes 22 and 23: out
of range, wrong value, duplicate key, missing NOT NULL) or that cannot be
read goes to ``lot/<site>/deadletter/<route>`` with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import ssl
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiomysql  # type: ignore[import-untyped]
import pymysql  # type: ignore[import-untyped]

from . import RouteContext, Setting
from .spooled import Refuse, Retry, SpooledSender, constants_of, describe
from .sql_events import CleanEvent, Event, SqlEvent, SqlParameter
from .sql_values import BadValue, Message, reader, rows_json

__all__ = ["CleanEvent", "MysqlRoute", "SqlEvent", "SqlParameter"]

log = logging.getLogger("lot")

# Server errors that refuse one row for its data (SQLSTATE 22xxx and 23xxx).
DATA_ERRORS = frozenset(
    {1048, 1062, 1169, 1216, 1217, 1264, 1265, 1292, 1364, 1365, 1366, 1367}
    | {1406, 1411, 1441, 1451, 1452, 1557, 1586, 1690, 3140, 3819, 4025}
)
_MAX_IDENTIFIER = 64  # characters of a MySQL column name
# No such table, no such column: a CLEAN table's columns must be read again.
_SHAPE_CHANGED = frozenset({1146, 1054})


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MysqlRoute(SpooledSender):
    """A MYSQL or MARIADB route; see the module docstring."""

    far_side = "the database"

    def __init__(
        self,
        *,
        name: str,
        events: Sequence[Event],
        server: Setting = None,
        port: Setting = None,
        database: Setting = None,
        username: Setting = None,
        password: Setting = None,
        use_ssl: Setting = None,
        trust_server_certificate: Setting = None,
        connection_string: Setting = None,
        timeout: float = 10.0,
        batch_size: int = 256,
        spool_limit: int = 256 * 2**20,
        spool_memory: int = 50_000,
    ) -> None:
        self.events = tuple(events)
        super().__init__(
            name,
            [e.source for e in self.events],
            parallel=1,
            batch_size=batch_size,
            spool_limit=spool_limit,
            spool_memory=spool_memory,
        )
        self.settings: dict[str, Setting] = {
            "server": server,
            "port": port,
            "database": database,
            "username": username,
            "password": password,
            "use_ssl": use_ssl,
            "trust_server_certificate": trust_server_certificate,
            "connection_string": connection_string,
        }
        self.timeout = timeout
        self._arguments: dict[str, Any] = {}
        self._connection: Any = None
        self._rows: list[Any] = []
        self._columns: dict[str, set[str]] = {}  # CLEAN table -> its columns

    def event_name(self, event: int) -> str:
        return self.events[event].name

    async def open(self, context: RouteContext) -> None:
        resolved = {k: context.resolve(v) for k, v in self.settings.items()}
        self._arguments = connect_arguments(resolved, timeout=self.timeout)
        names: set[str] = set()
        for event in self.events:
            if isinstance(event, SqlEvent):
                names |= {n for p in event.parameters for n in p.placeholders}
            else:
                names.add(event.data)
        constants = constants_of(names, context)
        self._rows = [_row_reader(e, constants) for e in self.events]

    async def close(self) -> None:
        await self._drop()

    async def send(self, event: int, message: Message, context: RouteContext) -> None:
        spec = self.events[event]
        values = self._rows[event](message)
        connection = await self._connect()
        try:
            async with connection.cursor(aiomysql.DictCursor) as cursor:
                if isinstance(spec, CleanEvent):
                    await self._insert_clean(cursor, spec.table, values)
                    return
                await cursor.execute(spec.sql, values)
                if spec.destination:
                    rows = await cursor.fetchall() if cursor.description else []
                    context.publish(spec.destination, rows_json(list(rows)))
        except pymysql.err.MySQLError as exc:
            raise self._failure(exc, spec) from exc

    def _failure(self, exc: Exception, spec: Event) -> Exception:
        """Refuse for a row refused for its data, else Retry."""
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        if isinstance(spec, CleanEvent) and code in _SHAPE_CHANGED:
            # Dropped or altered behind the route's back: look again.
            self._columns.pop(spec.table, None)
        if code in DATA_ERRORS:
            return Refuse(describe(exc))
        if isinstance(exc, pymysql.err.OperationalError) and code >= 2000:
            # A client error: the connection is gone; the next try opens one.
            connection, self._connection = self._connection, None
            if connection is not None:
                connection.close()
        return Retry(describe(exc))

    def batchable(self, event: int) -> bool:
        """An INSERT whose rows nobody waits for goes many rows at a time
        (the driver makes one multi-row INSERT of them)."""
        spec = self.events[event]
        return (
            isinstance(spec, SqlEvent)
            and not spec.destination
            and spec.sql.lstrip()[:6].upper() == "INSERT"
        )

    async def send_batch(
        self, event: int, messages: list[Message], context: RouteContext
    ) -> None:
        spec = self.events[event]
        assert isinstance(spec, SqlEvent)
        rows = [self._rows[event](message) for message in messages]
        connection = await self._connect()
        try:
            async with connection.cursor() as cursor:
                await cursor.executemany(spec.sql, rows)
        except pymysql.err.MySQLError as exc:
            raise self._failure(exc, spec) from exc

    async def _insert_clean(self, cursor: Any, table: str, data: Any) -> None:
        """INSERT the object's keys as columns, creating what is missing."""
        if not isinstance(data, dict) or not data:
            raise BadValue("CLEAN data is not a non-empty JSON object")
        for column in data:
            if not column or len(column) > _MAX_IDENTIFIER or "\x00" in column:
                raise BadValue("CLEAN data has a key that cannot be a column name")
        have = self._columns.get(table)
        if have is None:
            await cursor.execute(
                "SELECT column_name AS name FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = %s",
                (table,),
            )
            have = self._columns[table] = {r["name"] for r in await cursor.fetchall()}
        quoted = quote_identifier(table)
        if not have:
            listed = ", ".join(
                f"{quote_identifier(c)} {column_type(v)}" for c, v in data.items()
            )
            await cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {quoted} "
                f"(id BIGINT AUTO_INCREMENT PRIMARY KEY, {listed})"
            )
            have |= {"id", *data}
        for column, value in data.items():
            if column not in have:
                await cursor.execute(
                    f"ALTER TABLE {quoted} ADD COLUMN IF NOT EXISTS "
                    f"{quote_identifier(column)} {column_type(value)}"
                )
                have.add(column)
        names = ", ".join(quote_identifier(c) for c in data)
        marks = ", ".join(["%s"] * len(data))
        await cursor.execute(
            f"INSERT INTO {quoted} ({names}) VALUES ({marks})",
            [_bindable(v) for v in data.values()],
        )

    async def _connect(self) -> Any:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        try:
            self._connection = await aiomysql.connect(**self._arguments)
        except (pymysql.err.MySQLError, OSError, TimeoutError) as exc:
            raise Retry(describe(exc)) from exc
        return self._connection

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _row_reader(event: Event, constants: Mapping[str, str]) -> Any:
    """The function reading an event's values from a message: the list of
    ``%s`` values of a query, or the CLEAN form's object."""
    if isinstance(event, CleanEvent):
        read = reader(event.data, constants)
        return lambda message: read(message)
    readers = [
        ([reader(n, constants) for n in p.placeholders], p.template)
        for p in event.parameters
    ]

    def row(message: Message) -> list[Any]:
        values = []
        for found, template in readers:
            if template is not None:
                texts = [_text(read(message)) for read in found]
                values.append(template.format(*texts))
            else:
                values.append(_bindable(found[0](message)))
        return values

    return row


def _bindable(value: Any) -> Any:
    """A read value as the driver binds it.  NaN and infinities (which JSON
    payloads may hold) have no MySQL spelling: the driver would write them
    as bare words, which the server reads as column names."""
    if isinstance(value, float) and not math.isfinite(value):
        raise BadValue(f"{value} is not a number MySQL can store")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, dt.datetime):
        # MySQL DATETIME has no zone: UTC, as LoT's timestamps are.
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    bound = _bindable(value)
    return bound.isoformat(sep=" ") if isinstance(bound, dt.datetime) else str(bound)


def column_type(value: Any) -> str:
    """The column type of a CLEAN table, from the first value seen."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, dict | list):
        return "JSON"
    return "TEXT"


def connect_arguments(
    settings: Mapping[str, Setting], *, timeout: float
) -> dict[str, Any]:
    """aiomysql.connect arguments from resolved SQL_CONFIG settings.

    CONNECTION_STRING is a URI (``mysql://user:pass@host:3306/db``) or the
    ``Server=h;Port=3306;Database=d;Uid=u;Pwd=p`` form; settings written next
    to it win.  Without a server, ``localhost:3306``."""
    found: dict[str, Any] = {}
    text = str(settings.get("connection_string") or "").strip()
    if "://" in text:
        parts = urlsplit(text)
        found = {
            "host": parts.hostname,
            "port": parts.port,
            "user": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "db": parts.path.lstrip("/") or None,
        }
        mode = parse_qs(parts.query).get("ssl-mode", [""])[0].upper()
        if mode in ("REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"):
            found["ssl_mode"] = mode
    elif text:
        keys = {
            "server": "host",
            "host": "host",
            "data source": "host",
            "port": "port",
            "database": "db",
            "initial catalog": "db",
            "uid": "user",
            "user id": "user",
            "username": "user",
            "user": "user",
            "pwd": "password",
            "password": "password",
        }
        for pair in text.split(";"):
            key, _, value = pair.partition("=")
            if key.strip().lower() in keys and value.strip():
                found[keys[key.strip().lower()]] = value.strip()
    written = {
        "host": settings.get("server"),
        "port": settings.get("port"),
        "db": settings.get("database"),
        "user": settings.get("username"),
        "password": settings.get("password"),
    }
    for key, setting in written.items():
        if setting not in (None, ""):
            found[key] = setting
    host = str(found.get("host") or "localhost")
    if host.count(":") == 1 and not found.get("port"):
        host, _, port = host.partition(":")
        found["port"] = port
    arguments: dict[str, Any] = {
        "host": host,
        "port": int(str(found.get("port") or 3306)),
        "user": found.get("user") or None,
        "password": str(found.get("password") or ""),
        "db": found.get("db") or None,
        "autocommit": True,
        "connect_timeout": timeout,
        "charset": "utf8mb4",
    }
    use_ssl = str(settings.get("use_ssl") or "").lower() == "true"
    if use_ssl or found.get("ssl_mode"):
        context = ssl.create_default_context()
        if str(settings.get("trust_server_certificate") or "").lower() == "true":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        arguments["ssl"] = context
    return arguments
