"""The database routes' spool: messages taken from the broker, not yet stored.

Every message a database route takes is appended here by ``deliver``; the
records of one read from the broker are written to the file together by
``flush``, which the site's connection calls before it acknowledges those
messages (``Route.flush``).  So a message the broker considers handled
survives a SIGKILL of the site process (the bytes are in the kernel's page
cache; surviving a power cut would need an fsync per message, which the
spool does not pay).  The route
reads the oldest records with ``peek``, stores them, then ``commit``s up to
the first record it has not stored; a restart replays every record after the
last commit, in order.  Delivery is therefore at least once: the batch in
flight when the process dies is sent again.

On disk: a folder of segment files ``<first seq>.seg``, each a run of records
(``crc32, payload length, topic length, arrival time``, then the topic and
the payload), and ``committed``, the sequence number of the first record not
yet stored.  A segment whose records are all committed is deleted.  A torn
record at the end of a segment (a crash mid-write) is cut off.

When the spool holds more than ``limit`` bytes, the oldest segment is
deleted and its unstored records are lost: the newest data is kept, the loss
is counted in ``dropped`` and logged at ERROR each time.  The newest records
also wait in memory (at most ``memory`` of them), so a route that keeps up
never reads the disk.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .pending_writes import PendingWrites

__all__ = ["Record", "Spool"]

log = logging.getLogger("lot")

_HEADER = struct.Struct("<IIHd")  # crc32, payload length, topic length, time
_pack = _HEADER.pack
_crc32 = zlib.crc32
_new = tuple.__new__
_MARK = "committed"
_SUFFIX = ".seg"


class Record(NamedTuple):
    """One message as the route received it."""

    seq: int
    topic: str
    payload: bytes
    at: float  # arrival time, seconds since the epoch


@dataclass(slots=True)
class _Segment:
    first: int  # seq of its first record
    count: int
    size: int

    @property
    def end(self) -> int:
        return self.first + self.count


class Spool:
    """Records in arrival order, durable across a SIGKILL; see the module."""

    def __init__(
        self,
        folder: Path,
        *,
        limit: int = 256 * 2**20,
        segment: int = 4 * 2**20,
        memory: int = 50_000,
        name: str = "spool",
    ) -> None:
        self.folder = folder
        self.limit = limit
        self.segment_size = max(4096, min(segment, limit // 4))
        self.memory_limit = memory
        self.name = name
        self.dropped = 0
        self._segments: list[_Segment] = []
        self._fd = -1
        self._closed_size = 0  # bytes in every segment but the last
        self._memory: deque[Record] = deque()
        self._committed = 0
        self._loaded = 0  # records below this are in memory or committed
        self._cursor = (0, 0)  # (segment index, byte offset) of record _loaded
        self._topics: dict[str, tuple[bytes, int]] = {}
        self._unwritten = PendingWrites()  # appended, not yet in the file
        self._open()

    # -- state

    @property
    def next_seq(self) -> int:
        return self._segments[-1].end

    @property
    def pending(self) -> int:
        """Records appended and not yet committed."""
        return self.next_seq - self._committed

    @property
    def size(self) -> int:
        return self._closed_size + self._segments[-1].size

    # -- writing

    def append(self, topic: str, payload: bytes, at: float) -> None:
        """Add one record at the end of the spool (durable after `flush`)."""
        known = self._topics.get(topic)
        if known is None:
            known = self._topic(topic)
        encoded, topic_crc = known
        data = b"".join(
            (
                _pack(_crc32(payload, topic_crc), len(payload), len(encoded), at),
                encoded,
                payload,
            )
        )
        last = self._segments[-1]
        size = last.size + len(data)
        if last.size and size > self.segment_size:
            last = self._rotate()
            size = len(data)
        if self._unwritten.add(data):
            self.flush()
        seq = last.first + last.count
        last.count += 1
        last.size = size
        if self._loaded == seq and len(self._memory) < self.memory_limit:
            # tuple.__new__ skips the NamedTuple's own __new__, a Python call.
            self._memory.append(_new(Record, (seq, topic, payload, at)))
            self._loaded = seq + 1
            self._cursor = (len(self._segments) - 1, size)
        if self._closed_size + size > self.limit:
            self._drop_oldest()

    def flush(self) -> None:
        """Write the records appended since the last flush, in one call."""
        self._unwritten.write_to(self._fd)

    def _topic(self, topic: str) -> tuple[bytes, int]:
        """A topic's bytes on disk and their crc32, remembered for the next
        message on it (for at most 10,000 topics)."""
        encoded = topic.encode("utf-8", errors="replace")[:65535]
        known = (encoded, _crc32(encoded))
        if len(self._topics) < 10_000:
            self._topics[topic] = known
        return known

    def _rotate(self) -> _Segment:
        self.flush()
        os.close(self._fd)
        self._closed_size += self._segments[-1].size
        segment = _Segment(self.next_seq, 0, 0)
        self._segments.append(segment)
        self._fd = _open_append(self._path(segment))
        return segment

    def _drop_oldest(self) -> None:
        if len(self._segments) < 2:
            return
        oldest = self._segments.pop(0)
        self._closed_size -= oldest.size
        lost = max(oldest.end - max(self._committed, oldest.first), 0)
        self.dropped += lost
        self._path(oldest).unlink(missing_ok=True)
        while self._memory and self._memory[0].seq < oldest.end:
            self._memory.popleft()
        self._forget_first_segment(cursor_inside=self._loaded < oldest.end)
        self._loaded = max(self._loaded, oldest.end)
        self._set_committed(max(self._committed, oldest.end))
        log.error(
            "route %s: spool full (%d bytes): dropped the %d oldest messages "
            "not yet stored (%d dropped since start)",
            self.name,
            self.limit,
            lost,
            self.dropped,
        )

    # -- reading

    def peek(self, count: int) -> list[Record]:
        """The oldest ``count`` records not yet committed (fewer when there
        are fewer), the same ones again until they are committed."""
        if len(self._memory) < count and self._loaded < self.next_seq:
            self._load(count - len(self._memory))
        memory = self._memory
        if count >= len(memory):
            return list(memory)
        return [memory[i] for i in range(count)]

    def commit(self, seq: int) -> None:
        """Every record before ``seq`` is stored: forget it."""
        if seq <= self._committed:
            return
        while self._memory and self._memory[0].seq < seq:
            self._memory.popleft()
        self._set_committed(seq)
        while len(self._segments) > 1 and self._segments[0].end <= seq:
            oldest = self._segments.pop(0)
            self._closed_size -= oldest.size
            self._path(oldest).unlink(missing_ok=True)
            self._forget_first_segment(cursor_inside=False)

    def _forget_first_segment(self, *, cursor_inside: bool) -> None:
        """Keep the read cursor on the same record after segment 0 went."""
        segment, offset = self._cursor
        if cursor_inside or segment == 0:
            self._cursor = (0, 0)
        else:
            self._cursor = (segment - 1, offset)

    def _load(self, wanted: int) -> None:
        """Read records from disk at the cursor into memory."""
        self.flush()
        index, offset = self._cursor
        while wanted > 0 and index < len(self._segments):
            segment = self._segments[index]
            with open(self._path(segment), "rb") as file:
                file.seek(offset)
                data = file.read(segment.size - offset)
            base = offset
            for record, end in _records(data, self._loaded):
                self._memory.append(record)
                self._loaded = record.seq + 1
                offset = base + end
                wanted -= 1
                if wanted == 0:
                    break
            if offset >= segment.size and index + 1 < len(self._segments):
                index, offset = index + 1, 0
            else:
                break
        self._cursor = (index, offset)

    # -- files

    def _path(self, segment: _Segment) -> Path:
        return self.folder / f"{segment.first:020d}{_SUFFIX}"

    def _set_committed(self, seq: int) -> None:
        self._committed = seq
        fd = os.open(self.folder / _MARK, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, struct.pack("<Q", seq), 0)
        finally:
            os.close(fd)

    def _open(self) -> None:
        """Find the segments, the last commit and the first record to replay."""
        self.folder.mkdir(parents=True, exist_ok=True)
        mark = self.folder / _MARK
        committed = 0
        if mark.exists() and len(raw := mark.read_bytes()) >= 8:
            committed = struct.unpack("<Q", raw[:8])[0]
        for path in sorted(self.folder.glob(f"*{_SUFFIX}")):
            self._adopt(path, committed)
        if not self._segments:
            self._segments.append(_Segment(committed, 0, 0))
        self._committed = max(committed, self._segments[0].first)
        self._loaded = self._segments[0].first
        self._closed_size = sum(s.size for s in self._segments[:-1])
        self._fd = _open_append(self._path(self._segments[-1]))
        self._skip_committed()
        if self.pending:
            log.info(
                "route %s: %d messages in the spool from a previous run",
                self.name,
                self.pending,
            )

    def _adopt(self, path: Path, committed: int) -> None:
        """Take one segment file found at start, cutting a torn tail."""
        data = path.read_bytes()
        first = int(path.stem)
        count, good = 0, 0
        for _record, end in _records(data, first):
            count, good = count + 1, end
        if good < len(data):
            log.warning("route %s: cut a torn record off %s", self.name, path.name)
            os.truncate(path, good)
        if count == 0 or first + count <= committed:
            path.unlink()
            return
        self._segments.append(_Segment(first, count, good))

    def _skip_committed(self) -> None:
        """Move the read cursor past records committed before a restart."""
        self._cursor = (0, 0)
        if self._committed <= self._loaded:
            return
        data = self._path(self._segments[0]).read_bytes()
        for record, end in _records(data, self._loaded):
            if record.seq >= self._committed:
                break
            self._cursor = (0, end)
            self._loaded = record.seq + 1

    def close(self) -> None:
        if self._fd >= 0:
            self.flush()
            os.close(self._fd)
            self._fd = -1


def _open_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


def _records(data: bytes, seq: int) -> Iterator[tuple[Record, int]]:
    """Each whole, intact record of ``data`` with the offset just past it."""
    offset, size, header = 0, len(data), _HEADER.size
    while offset + header <= size:
        crc, length, topic_length, at = _HEADER.unpack_from(data, offset)
        start = offset + header
        end = start + topic_length + length
        if end > size:
            return
        topic = data[start : start + topic_length]
        payload = data[start + topic_length : end]
        if zlib.crc32(payload, zlib.crc32(topic)) != crc:
            return
        yield Record(seq, topic.decode("utf-8", errors="replace"), payload, at), end
        offset, seq = end, seq + 1
