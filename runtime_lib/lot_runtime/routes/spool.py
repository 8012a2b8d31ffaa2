"""A bounded on-disk queue of MQTT messages that survives a killed process.

A `Spool` is a folder of segment files holding records appended in order,
and a small `cursor` file with two positions: `committed` (everything
before it was confirmed by the receiving broker and may be forgotten) and
`sent` (everything before it may have been handed to a connection).  A
reader takes records from its own position, which starts at `committed`
when the spool is opened: what was not confirmed is sent again, and the
records between `committed` and `sent` are counted as possible duplicates.

Appends are buffered (`PendingWrites`) and reach the file in one
`os.write` per `flush()`, which the owner calls before the messages are
acknowledged to the broker they came from, and which every read does first,
so nothing is handed on that is not in the file.  There is no fsync on
that path: a killed process loses nothing (the kernel has the bytes);
`sync()` flushes to the device, which the owner calls about once a second
to bound what a power loss can take.  Each record carries a CRC, so a torn
tail is cut off when the spool is opened.  When the spool holds more than
its limit, the oldest segment is dropped whole and its records are counted
in `dropped`.

A reader that keeps up never reads the files: the newest records are also
kept in memory (up to `MEMORY_RECORDS`), and a read at their start takes
them from there.  The cursor is two fixed slots written in turn with
`pwrite`, each with a sequence number and a CRC, so saving it is one system
call and a torn slot leaves the other one.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from .pending_writes import PendingWrites

__all__ = ["MEMORY_RECORDS", "Position", "Record", "Spool"]

log = logging.getLogger("lot")

MEMORY_RECORDS = 4096  # newest records also kept in memory for the reader

_HEADER = struct.Struct("<IHIB")  # crc32, topic length, payload length, flags
_BODY = struct.Struct("<HIB")  # the header without its crc
_CRC = struct.Struct("<I")
_SLOT = struct.Struct("<QQQQQ")  # sequence, committed, sent (segment, offset)
_SLOT_BYTES = 64  # a slot: the fields, their crc32, padding
_RETAIN = 0x01
_SUFFIX = ".seg"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True, order=True)
class Position:
    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    payload: bytes
    retain: bool
    end: Position  # where the next record starts


def _encode(name: bytes, payload: bytes, retain: bool) -> bytes:
    body = _BODY.pack(len(name), len(payload), _RETAIN if retain else 0)
    crc = zlib.crc32(payload, zlib.crc32(name, zlib.crc32(body)))
    return _CRC.pack(crc) + body + name + payload


class Spool:
    """An append-only, segmented, crash-safe message queue in one folder."""

    def __init__(
        self,
        folder: Path,
        *,
        limit_bytes: int = 64 << 20,
        segment_bytes: int = 4 << 20,
    ) -> None:
        self.folder = folder
        self.limit_bytes = limit_bytes
        self.segment_bytes = segment_bytes
        self.dropped = 0  # records thrown away because the spool was full
        self._counts: dict[int, int] = {}  # segment -> records in it
        self._sizes: dict[int, int] = {}  # segment -> bytes in it (buffer too)
        self._total = 0  # bytes in all segments
        self._buffer = PendingWrites()  # appended, not yet in the tail file
        # The newest records, (start, record), contiguous up to the end.
        self._memory: deque[tuple[Position, Record]] = deque()
        folder.mkdir(parents=True, exist_ok=True)
        self._cursor_fd = os.open(folder / "cursor", os.O_RDWR | os.O_CREAT, 0o600)
        self._cursor_sequence = 0
        self.committed, sent = self._load_cursor()
        self._recover()
        self._fd = self._open_tail()
        self._dirty = False
        self._total = sum(self._sizes.values())
        self.read_at = self.committed
        self.resent_at_open = self._records_between(self.committed, sent)
        self._unsent = self._records_between(self.read_at, self._end())
        self._backlog = self._unsent

    # -- state

    @property
    def backlog(self) -> int:
        """Records appended and not yet confirmed."""
        return self._backlog

    @property
    def unsent(self) -> int:
        """Records the reader has not taken yet."""
        return self._unsent

    # -- writing

    def append(self, topic: str, payload: bytes, retain: bool) -> Position:
        """Add a record at the end; returns where the next one will start
        (the `end` the record has when it is read)."""
        record = _encode(topic.encode(), payload, retain)
        tail = self._tail
        start = self._sizes[tail]
        if start and start + len(record) > self.segment_bytes:
            self._rotate(tail + 1)
            tail, start = self._tail, 0
        if self._buffer.add(record):
            self.flush()
        end = Position(tail, start + len(record))
        self._sizes[tail] = end.offset
        self._counts[tail] += 1
        self._total += len(record)
        self._unsent += 1
        self._backlog += 1
        memory = self._memory
        memory.append((Position(tail, start), Record(topic, payload, retain, end)))
        if len(memory) > MEMORY_RECORDS:
            memory.popleft()
        if self._total > self.limit_bytes and len(self._sizes) > 1:
            self._drop_oldest()
        return end

    def flush(self) -> None:
        """Write the appended records to the tail file (one system call)."""
        if self._buffer.write_to(self._fd):
            self._dirty = True

    def sync(self) -> None:
        """Flush appended records to the device (bounds a power loss)."""
        self.flush()
        if self._dirty:
            self._dirty = False
            os.fsync(self._fd)
            os.fsync(self._cursor_fd)

    def close(self) -> None:
        self.sync()
        os.close(self._fd)
        os.close(self._cursor_fd)

    # -- reading and confirming

    def read(self, limit: int) -> list[Record]:
        """Up to `limit` records from the reader's position, which moves on."""
        self.flush()
        found: list[Record] = []
        end = self._end()
        memory = self._memory
        while len(found) < limit and self.read_at < end:
            segment, offset = self.read_at.segment, self.read_at.offset
            if offset >= self._sizes.get(segment, 0):
                self.read_at = Position(segment + 1, 0)
                continue
            while memory and memory[0][0] < self.read_at:
                memory.popleft()  # behind the reader: never read from memory
            if memory and memory[0][0] == self.read_at:
                while memory and len(found) < limit:
                    found.append(memory.popleft()[1])
                self.read_at = found[-1].end
                continue
            with open(self._path(segment), "rb") as file:
                file.seek(offset)
                data = file.read(min(_CHUNK, self._sizes[segment] - offset))
            found.extend(self._parse(data, segment, offset, limit - len(found)))
            self.read_at = found[-1].end if found else Position(segment + 1, 0)
        self._unsent -= len(found)
        return found

    def mark_sent(self) -> None:
        """Remember that everything before the reader may have been sent."""
        self._save_cursor(self.committed, self.read_at)

    def commit(self, upto: Position, count: int) -> None:
        """`count` records before `upto` were confirmed: forget them."""
        if upto <= self.committed:
            return
        self.committed = upto
        self._backlog = max(0, self._backlog - count)
        for segment in [s for s in self._sizes if s < upto.segment]:
            self._remove(segment)
        self._save_cursor(self.committed, max(self.read_at, upto))

    def rewind(self) -> int:
        """Read again from `committed`; the number of records to send again."""
        again = self._records_between(self.committed, self.read_at)
        self.read_at = self.committed
        self._unsent += again
        return again

    # -- files

    def _path(self, segment: int) -> Path:
        return self.folder / f"{segment:010d}{_SUFFIX}"

    def _end(self) -> Position:
        return Position(self._tail, self._sizes[self._tail])

    def _open_tail(self) -> int:
        path = self._path(self._tail)
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _rotate(self, segment: int) -> None:
        self.flush()
        os.fsync(self._fd)
        os.close(self._fd)
        self._sizes[segment] = self._counts[segment] = 0
        self._tail = segment
        self._fd = self._open_tail()

    def _remove(self, segment: int) -> None:
        self._total -= self._sizes.pop(segment, 0)
        self._counts.pop(segment, None)
        self._path(segment).unlink(missing_ok=True)

    def _drop_oldest(self) -> None:
        oldest = min(self._sizes)
        following = Position(oldest + 1, 0)
        lost = self._records_between(
            max(self.committed, Position(oldest, 0)), following
        )
        unsent_lost = self._records_between(
            max(self.read_at, Position(oldest, 0)), following
        )
        self._remove(oldest)
        self.dropped += lost
        self._backlog -= lost
        self._unsent -= unsent_lost
        self.committed = max(self.committed, following)
        self.read_at = max(self.read_at, following)
        self._save_cursor(self.committed, self.read_at)
        log.warning(
            "spool %s full (%d bytes): dropped %d oldest messages",
            self.folder.name,
            self.limit_bytes,
            lost,
        )

    def _records_between(self, start: Position, stop: Position | None) -> int:
        """Records from `start` up to `stop` (the end when None), by scanning."""
        self.flush()
        stop = stop or self._end()
        count = 0
        for segment in sorted(self._sizes):
            if segment < start.segment or segment > stop.segment:
                continue
            low = start.offset if segment == start.segment else 0
            high = stop.offset if segment == stop.segment else self._sizes[segment]
            if low == 0 and high >= self._sizes[segment]:
                count += self._counts[segment]
                continue
            with open(self._path(segment), "rb") as file:
                file.seek(low)
                data = file.read(max(0, high - low))
            count += len(self._parse(data, segment, low, len(data)))
        return count

    def _parse(
        self, data: bytes, segment: int, offset: int, limit: int
    ) -> list[Record]:
        found: list[Record] = []
        at = 0
        size = _HEADER.size
        while len(found) < limit and at + size <= len(data):
            crc, topic_len, payload_len, flags = _HEADER.unpack_from(data, at)
            end = at + size + topic_len + payload_len
            if end > len(data):
                break
            if zlib.crc32(data[at + 4 : end]) != crc:
                break
            start = at + size
            topic = data[start : start + topic_len].decode()
            payload = data[start + topic_len : end]
            at = end
            position = Position(segment, offset + at)
            found.append(Record(topic, payload, bool(flags & _RETAIN), position))
        return found

    def _recover(self) -> None:
        """Find the segments, count their records, and cut off a torn tail."""
        segments = sorted(
            int(path.stem) for path in self.folder.glob(f"*{_SUFFIX}") if path.stem
        )
        for segment in segments:
            if segment < self.committed.segment:
                self._path(segment).unlink(missing_ok=True)
                continue
            data = self._path(segment).read_bytes()
            records = self._parse(data, segment, 0, len(data))
            good = records[-1].end.offset if records else 0
            if good < len(data):
                log.warning(
                    "spool %s: cut %d torn bytes off segment %d",
                    self.folder.name,
                    len(data) - good,
                    segment,
                )
                os.truncate(self._path(segment), good)
            self._sizes[segment] = good
            self._counts[segment] = len(records)
        if not self._sizes:
            first = max(self.committed.segment, 1)
            self._sizes[first] = self._counts[first] = 0
            self._path(first).touch()
            self.committed = max(self.committed, Position(first, 0))
        self._tail = max(self._sizes)
        self.committed = min(self.committed, self._end())

    # -- the cursor

    def _load_cursor(self) -> tuple[Position, Position]:
        """The newest intact slot's positions (the start when there is none)."""
        data = os.pread(self._cursor_fd, 2 * _SLOT_BYTES, 0)
        best: tuple[int, Position, Position] | None = None
        for at in (0, _SLOT_BYTES):
            slot = data[at : at + _SLOT.size + _CRC.size]
            if len(slot) < _SLOT.size + _CRC.size:
                continue
            (crc,) = _CRC.unpack_from(slot, _SLOT.size)
            if zlib.crc32(slot[: _SLOT.size]) != crc:
                continue
            sequence, *numbers = _SLOT.unpack_from(slot)
            if best is None or sequence > best[0]:
                committed = Position(numbers[0], numbers[1])
                best = (sequence, committed, Position(numbers[2], numbers[3]))
        if best is None:
            return Position(0, 0), Position(0, 0)
        self._cursor_sequence = best[0]
        return best[1], best[2]

    def _save_cursor(self, committed: Position, sent: Position) -> None:
        self._cursor_sequence += 1
        sequence = self._cursor_sequence
        fields = _SLOT.pack(
            sequence, committed.segment, committed.offset, sent.segment, sent.offset
        )
        slot = fields + _CRC.pack(zlib.crc32(fields))
        os.pwrite(self._cursor_fd, slot, (sequence % 2) * _SLOT_BYTES)
        self._dirty = True
