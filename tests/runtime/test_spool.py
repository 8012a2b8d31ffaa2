"""The bridge spool: order, confirmation, restart, torn tails and its bound."""

from __future__ import annotations

import os

from lot_runtime.routes.spool import MEMORY_RECORDS, Spool


def _fill(spool: Spool, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        spool.append(f"alarms/{n}", str(n).encode(), retain=n % 2 == 0)


def test_records_come_back_in_order_with_their_retain_flag(tmp_path):
    spool = Spool(tmp_path, segment_bytes=200)
    _fill(spool, 50)
    first = spool.read(20)
    rest = spool.read(100)
    got = first + rest
    assert [r.payload for r in got] == [str(n).encode() for n in range(50)]
    assert [r.retain for r in got[:3]] == [True, False, True]
    assert spool.unsent == 0 and spool.backlog == 50
    assert len(list(tmp_path.glob("*.seg"))) > 5


def test_what_was_not_confirmed_is_read_again_after_a_restart(tmp_path):
    spool = Spool(tmp_path, segment_bytes=300)
    _fill(spool, 30)
    batch = spool.read(10)
    spool.mark_sent()
    spool.commit(batch[-1].end, len(batch))
    spool.read(5)
    spool.mark_sent()
    os.close(spool._fd)  # as a SIGKILL leaves it: no close, no sync

    again = Spool(tmp_path, segment_bytes=300)
    assert again.backlog == 20 and again.resent_at_open == 5
    assert [r.payload for r in again.read(100)] == [
        str(n).encode() for n in range(10, 30)
    ]


def test_a_torn_tail_is_cut_off(tmp_path):
    spool = Spool(tmp_path)
    _fill(spool, 3)
    spool.close()
    [segment] = tmp_path.glob("*.seg")
    with open(segment, "ab") as file:
        file.write(b"\x01\x02\x03 half a record")
    again = Spool(tmp_path)
    assert [r.payload for r in again.read(10)] == [b"0", b"1", b"2"]
    again.append("alarms/3", b"3", retain=False)
    assert [r.payload for r in again.read(10)] == [b"3"]


def test_a_full_spool_drops_its_oldest_segment_and_counts_it(tmp_path):
    spool = Spool(tmp_path, limit_bytes=1000, segment_bytes=250)
    _fill(spool, 200)
    kept = spool.read(1000)
    assert spool.dropped > 0
    assert spool.dropped + len(kept) == 200
    assert [r.payload for r in kept] == [
        str(n).encode() for n in range(spool.dropped, 200)
    ]
    assert spool.backlog == len(kept)


def test_flushed_appends_survive_a_kill_and_unflushed_ones_are_not_half_written(
    tmp_path,
):
    spool = Spool(tmp_path)
    _fill(spool, 5)
    spool.flush()
    _fill(spool, 3, start=5)  # buffered, never flushed: lost with the process
    os.close(spool._fd)

    again = Spool(tmp_path)
    assert [r.payload for r in again.read(100)] == [str(n).encode() for n in range(5)]


def test_a_reader_behind_the_memory_reads_the_files_and_then_catches_up(tmp_path):
    spool = Spool(tmp_path, segment_bytes=4096)
    count = MEMORY_RECORDS + 500  # the oldest 500 fall out of memory
    _fill(spool, count)
    got = []
    while batch := spool.read(333):
        got.extend(batch)
    assert [r.payload for r in got] == [str(n).encode() for n in range(count)]

    # Read from memory, rewound, read again from the files: the same records.
    _fill(spool, 10, start=count)
    fresh = spool.read(100)
    assert spool.rewind() == count + 10
    again = spool.read(count + 100)
    assert [r.payload for r in again[-10:]] == [r.payload for r in fresh]
    assert [r.end for r in again[-10:]] == [r.end for r in fresh]


def test_a_torn_cursor_slot_leaves_the_other_one(tmp_path):
    spool = Spool(tmp_path)
    _fill(spool, 10)
    batch = spool.read(4)
    spool.commit(batch[-1].end, 4)  # older slot: 4 confirmed
    batch = spool.read(3)
    spool.commit(batch[-1].end, 3)  # newer slot: 7 confirmed
    spool.close()
    cursor = tmp_path / "cursor"
    data = bytearray(cursor.read_bytes())
    newer = 0 if data[0] % 2 == 0 else 64  # slots alternate on the sequence
    data[newer + 8] ^= 0xFF  # the newer slot's committed segment, torn
    cursor.write_bytes(bytes(data))

    again = Spool(tmp_path)
    assert [r.payload for r in again.read(100)] == [
        str(n).encode() for n in range(4, 10)
    ]
