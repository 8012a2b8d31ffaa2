"""The FILE_STORAGE route: messages written to CSV or JSON files on the device.

``FileRoute`` stores each message on an event's ``source`` filter as one
record of a table: the JSON object that the event's ``data`` placeholder
reads (``{value.json}``, the whole payload, by default; a value that is not
an object is stored as ``{"value": ...}``), in the file that ``pattern``
names for that table in ``folder``.  ``pattern`` fills ``{0}`` with the
table, ``{date}`` with today's date (UTC, ``YYYY-MM-DD``) and strftime
directives (``%Y%m%d``) with today's.

- CSV (``fmt="CSV"``): a header row from the first record's keys when the
  file is new; later records are written in those columns (a missing key is
  an empty cell, a key the header lacks is left out); nested values as JSON
  text; ``delimiter`` between cells.
- JSON: the file is one JSON array of the records, kept valid after every
  write (the closing bracket is rewritten), so it can be read at any time.

With ``include_timestamp`` each record starts with ``timestamp``, the
message's arrival time in ``date_format`` (.NET notation, as LoT writes it:
``yyyy-MM-dd HH:mm:ss``, ``fff`` for milliseconds, quoted literals).  A
file that holds ``max_records`` records is renamed ``<name>.<n><suffix>``
(``n`` counting up from 1) and a new one begun.  Without ``append``, a file
left from before the route started is renamed the same way rather than
overwritten, so nothing written earlier is lost.

An ``AppendEvent`` is the plugin's form, ``APPEND <file> <line>``: the
line (placeholders filled) is appended to the file (its name filled the
same way), as written.  A filled file name must be a plain name inside the
folder: one that climbs out of it (``..``, ``/``) is refused.

Messages go through the spool and retry loop of ``spooled.SpooledSender``:
a folder that cannot be written (permissions, a full disk) keeps them and
retries with backoff; a message that cannot be stored (its data not JSON, a
placeholder without a value) goes to the dead letters.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .. import values
from . import RouteContext, Setting
from .spooled import (
    Refuse,
    Retry,
    SpooledSender,
    Template,
    constants_of,
    describe,
    placeholder_names,
)
from .sql_values import Message, reader

__all__ = ["OPEN_FILES", "AppendEvent", "FileRoute", "StoreEvent", "dotnet_format"]

log = logging.getLogger("lot")

_JSON_END = b"\n]\n"
OPEN_FILES = 32  # files kept open at once; others are reopened when written
# Stands for the milliseconds in a strftime format (strftime has none); a
# private-use character, since strftime stops at a NUL.
_MILLISECONDS = "\ue000"
# .NET date and time format tokens -> strftime, longest first.
_DOTNET = [
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("hh", "%I"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("fff", _MILLISECONDS),
    ("tt", "%p"),
    ("zzz", "%z"),
]
_TOKENS = re.compile("'[^']*'|" + "|".join(re.escape(t) for t, _ in _DOTNET))


@dataclass(frozen=True, slots=True)
class StoreEvent:
    """``QUERY "CLEAN:{table: t, data: {value.json}}"`` or an older mapping
    (``TOPIC`` + ``TABLE_NAME``): records of ``table``."""

    name: str
    source: str
    table: str
    data: str = "value.json"


@dataclass(frozen=True, slots=True)
class AppendEvent:
    """``QUERY "APPEND <file> <line>"``: one line per message."""

    name: str
    source: str
    file: str
    line: str


Event = StoreEvent | AppendEvent


def dotnet_format(text: str) -> str:
    """A .NET date format as a strftime format (``fff``, milliseconds, as
    ``_MILLISECONDS``, filled in after strftime)."""
    out: list[str] = []
    last = 0
    for match in _TOKENS.finditer(text):
        out.append(text[last : match.start()].replace("%", "%%"))
        token = match.group()
        if token.startswith("'"):
            out.append(token[1:-1].replace("%", "%%"))
        else:
            out.append(dict(_DOTNET)[token])
        last = match.end()
    out.append(text[last:].replace("%", "%%"))
    return "".join(out)


class _File:
    """One open file of the route and what it holds."""

    def __init__(
        self, path: Path, handle: IO[bytes], records: int, header: list[str]
    ) -> None:
        self.path = path
        self.handle = handle
        self.records = records
        self.header = header  # CSV columns; empty until the first record


class FileRoute(SpooledSender):
    """A FILE_STORAGE route; see the module docstring."""

    far_side = "the storage folder"

    def __init__(
        self,
        *,
        name: str,
        folder: Setting,
        events: Sequence[Event],
        pattern: str | None = None,
        fmt: str = "CSV",
        delimiter: str = ",",
        append: bool = False,
        include_timestamp: bool = False,
        max_records: int = 10_000,
        date_format: str = "yyyy-MM-dd HH:mm:ss",
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
        self.folder_setting = folder
        self.fmt = fmt.upper()
        self.pattern = pattern or ("{0}.json" if self.fmt == "JSON" else "{0}.csv")
        self.delimiter = delimiter or ","
        self.append = append
        self.include_timestamp = include_timestamp
        self.max_records = max(1, max_records)
        self.time_format = dotnet_format(date_format)
        self.folder = Path(".")
        # Open files, the least recently written first; at most OPEN_FILES
        # (a dated FILE_PATTERN or an APPEND name per topic would otherwise
        # keep one more open every day or every topic).
        self._files: OrderedDict[Path, _File] = OrderedDict()
        self._started: set[Path] = set()  # files this run has begun or kept
        self._readers: list[Any] = []
        self._appends: list[tuple[Template, Template] | None] = []

    def event_name(self, event: int) -> str:
        return self.events[event].name

    async def open(self, context: RouteContext) -> None:
        self.folder = Path(str(context.resolve(self.folder_setting)))
        texts: list[str | None] = []
        for event in self.events:
            if isinstance(event, AppendEvent):
                texts += [event.file, event.line]
        constants = constants_of(placeholder_names(texts), context)
        self._readers = [
            reader(e.data, constants) if isinstance(e, StoreEvent) else None
            for e in self.events
        ]
        self._appends = [
            (Template(e.file, constants), Template(e.line, constants))
            if isinstance(e, AppendEvent)
            else None
            for e in self.events
        ]

    async def close(self) -> None:
        self._forget_files()

    async def send(self, event: int, message: Message, context: RouteContext) -> None:
        spec = self.events[event]
        try:
            if isinstance(spec, AppendEvent):
                self._append_line(event, message)
            else:
                self._store(spec, event, message)
        except OSError as exc:
            self._forget_files()
            raise Retry(describe(exc)) from exc

    # -- records

    def _store(self, spec: StoreEvent, event: int, message: Message) -> None:
        data = self._readers[event](message)
        record: dict[str, Any] = (
            dict(data) if isinstance(data, dict) else {"value": data}
        )
        if not record and self.fmt != "JSON":
            raise Refuse("an empty object has no columns for a CSV row")
        if self.include_timestamp:
            record = {"timestamp": self._timestamp(message.at), **record}
        path = self._path(self.pattern.replace("{0}", spec.table), message.at)
        file = self._file(path)
        if file.records >= self.max_records:
            file = self._roll(file)
        if self.fmt == "JSON":
            self._write_json(file, record)
        else:
            self._write_csv(file, record)
        file.records += 1

    def _write_json(self, file: _File, record: dict[str, Any]) -> None:
        text = json.dumps(record, ensure_ascii=False, default=str).encode()
        handle = file.handle
        if file.records == 0:
            handle.seek(0)
            handle.truncate()
            handle.write(b"[\n" + text + _JSON_END)
        else:
            handle.seek(-len(_JSON_END), os.SEEK_END)
            handle.write(b",\n" + text + _JSON_END)
        handle.flush()

    def _write_csv(self, file: _File, record: dict[str, Any]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=self.delimiter, lineterminator="\n")
        if not file.header:
            file.header = list(record)
            writer.writerow(file.header)
        writer.writerow([_cell(record.get(column)) for column in file.header])
        file.handle.seek(0, os.SEEK_END)
        file.handle.write(buffer.getvalue().encode())
        file.handle.flush()

    def _append_line(self, event: int, message: Message) -> None:
        pair = self._appends[event]
        assert pair is not None
        name, line = pair
        path = self._path(name.fill(message), message.at)
        file = self._file(path, lines=True)
        file.handle.seek(0, os.SEEK_END)
        file.handle.write((line.fill(message) + "\n").encode())
        file.handle.flush()
        file.records += 1

    def _timestamp(self, at: float) -> str:
        moment = dt.datetime.fromtimestamp(at, dt.UTC)
        text = moment.strftime(self.time_format)
        return text.replace(_MILLISECONDS, f"{moment.microsecond // 1000:03d}")

    # -- files

    def _path(self, name: str, at: float) -> Path:
        """The file ``name`` (pattern filled) in the folder; Refuse when the
        name would leave it."""
        day = dt.datetime.fromtimestamp(at, dt.UTC)
        name = name.replace("{date}", day.strftime("%Y-%m-%d"))
        if "%" in name:
            name = day.strftime(name)
        if not name or any(c in name for c in "/\\\0") or name in (".", ".."):
            raise Refuse(f"`{name}` is not a file name inside the storage folder")
        return self.folder / name

    def _file(self, path: Path, lines: bool = False) -> _File:
        file = self._files.get(path)
        if file is not None:
            self._files.move_to_end(path)
            return file
        while len(self._files) >= OPEN_FILES:
            _, oldest = self._files.popitem(last=False)
            oldest.handle.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        if path.exists() and not self.append and path not in self._started:
            path.rename(_next_roll(path))
        self._started.add(path)
        records, header = 0, list[str]()
        if path.exists() and not lines:
            found = self._existing(path)
            if found is None:
                aside = _next_roll(path)
                log.warning(
                    "route %s: %s is not a JSON array; moved to %s",
                    self.name,
                    path,
                    aside.name,
                )
                path.rename(aside)
            else:
                records, header = found
        # Read and write, not append: a JSON file's closing bracket is
        # rewritten by each record.
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        handle = os.fdopen(descriptor, "r+b")
        file = self._files[path] = _File(path, handle, records, header)
        return file

    def _existing(self, path: Path) -> tuple[int, list[str]] | None:
        """The records and CSV header of a file written before; a JSON file
        cut short by a crash is closed again after its last whole record.
        None for a JSON file that is no array of records."""
        content = path.read_bytes()
        if self.fmt != "JSON":
            text = content.decode("utf-8", "replace")
            rows = list(csv.reader(io.StringIO(text), delimiter=self.delimiter))
            return max(0, len(rows) - 1), rows[0] if rows else []
        if not content.strip():
            return 0, []
        if not content.lstrip().startswith(b"["):
            return None  # not ours to repair: moved aside as it is
        if not content.rstrip().endswith(b"]"):
            end = content.rfind(b"}")
            content = content[: end + 1] + _JSON_END if end >= 0 else b""
            path.write_bytes(content)
            log.warning("route %s: %s was cut short; repaired", self.name, path)
            if not content:
                return 0, []
        try:
            records = json.loads(content)
        except ValueError:
            return None
        if not isinstance(records, list):
            return None
        if records and not content.endswith(_JSON_END):
            # Written by someone else: end it the way each write expects.
            path.write_bytes(content.rstrip()[:-1].rstrip() + _JSON_END)
        return len(records), []

    def _roll(self, file: _File) -> _File:
        file.handle.close()
        del self._files[file.path]
        file.path.rename(_next_roll(file.path))
        return self._file(file.path)

    def _forget_files(self) -> None:
        for file in self._files.values():
            try:
                file.handle.close()
            except OSError:
                pass
        self._files.clear()


def _next_roll(path: Path) -> Path:
    """``name.<n>.csv`` for the first n from 1 not taken."""
    number = 1
    while True:
        candidate = path.with_name(f"{path.stem}.{number}{path.suffix}")
        if not candidate.exists():
            return candidate
        number += 1


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return values.text(value)
