"""Records appended to a file in batches, shared by the routes' spools.

A spool adds each encoded record here as it arrives and writes them all with
one system call when the site is about to acknowledge the messages they came
from (its `flush`).  `add` says when the bytes waiting pass `LIMIT`, so that a
long run of appends without a flush (a route replaying, a large read) still
reaches the file in bounded steps.
"""

from __future__ import annotations

import os

__all__ = ["LIMIT", "PendingWrites"]

LIMIT = 1 << 18  # bytes waiting before the owner should write them


class PendingWrites:
    """Encoded records not yet written to the spool's tail file."""

    __slots__ = ("_parts", "_size")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, data: bytes) -> bool:
        """Keep `data`; True when what waits has reached `LIMIT`."""
        self._parts.append(data)
        self._size += len(data)
        return self._size >= LIMIT

    def write_to(self, fd: int) -> bool:
        """Write everything waiting to `fd` in one call; False when nothing
        was waiting."""
        if not self._parts:
            return False
        view = memoryview(b"".join(self._parts))
        self._parts.clear()
        self._size = 0
        while view:
            view = view[os.write(fd, view) :]
        return True
