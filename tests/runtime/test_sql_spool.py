"""The database routes' spool: order, commits, reopening, torn tails, limits."""

from __future__ import annotations

import logging

from lot_runtime.routes.sql_spool import Spool


def _fill(spool: Spool, first: int, count: int) -> None:
    for i in range(first, first + count):
        spool.append(f"t/{i}", str(i).encode(), 1000.0 + i)


def _payloads(records) -> list[int]:
    return [int(r.payload) for r in records]


def test_records_come_back_in_order_until_committed(tmp_path):
    spool = Spool(tmp_path)
    _fill(spool, 0, 5)
    assert _payloads(spool.peek(3)) == [0, 1, 2]
    assert _payloads(spool.peek(3)) == [0, 1, 2]  # the same until committed
    first = spool.peek(1)[0]
    assert (first.topic, first.at, first.seq) == ("t/0", 1000.0, 0)
    spool.commit(2)
    assert _payloads(spool.peek(10)) == [2, 3, 4]
    assert spool.pending == 3


def test_a_reopened_spool_replays_only_what_was_not_committed(tmp_path):
    spool = Spool(tmp_path, segment=4096)
    _fill(spool, 0, 500)  # several segments
    spool.commit(321)
    spool.close()  # or a SIGKILL after a flush: see the next test

    again = Spool(tmp_path, segment=4096)
    assert again.pending == 179
    assert _payloads(again.peek(1000)) == list(range(321, 500))
    _fill(again, 500, 3)
    assert _payloads(again.peek(1000))[-3:] == [500, 501, 502]
    again.commit(again.next_seq)
    assert len(list(tmp_path.glob("*.seg"))) == 1  # committed segments go


def test_what_a_flush_wrote_survives_a_killed_process(tmp_path):
    spool = Spool(tmp_path)
    _fill(spool, 0, 3)
    spool.flush()  # the site does this before acknowledging a read
    _fill(spool, 3, 2)  # taken from a read not acknowledged yet

    # A killed process closes nothing: the next one finds what was flushed,
    # and the broker sends the two unacknowledged messages again.
    again = Spool(tmp_path)
    assert _payloads(again.peek(10)) == [0, 1, 2]


def test_records_beyond_memory_are_read_back_from_disk_in_order(tmp_path):
    spool = Spool(tmp_path, segment=4096, memory=10)
    _fill(spool, 0, 300)
    seen = []
    while spool.pending:
        batch = spool.peek(7)
        seen.extend(_payloads(batch))
        spool.commit(batch[-1].seq + 1)
        if len(seen) == 70:
            _fill(spool, 300, 20)  # arrivals while draining
    assert seen == list(range(320))


def test_a_torn_last_record_is_cut_off(tmp_path):
    spool = Spool(tmp_path)
    _fill(spool, 0, 3)
    spool.close()
    [segment] = tmp_path.glob("*.seg")
    with open(segment, "ab") as file:
        file.write(b"\x01\x02\x03 half a header")

    again = Spool(tmp_path)
    assert _payloads(again.peek(10)) == [0, 1, 2]
    _fill(again, 3, 1)
    again.close()
    assert _payloads(Spool(tmp_path).peek(10)) == [0, 1, 2, 3]


def test_a_full_spool_drops_the_oldest_segment_and_says_so(tmp_path, caplog):
    spool = Spool(tmp_path, limit=20_000, segment=4096, name="Archive")
    with caplog.at_level(logging.ERROR, logger="lot"):
        _fill(spool, 0, 2000)
    kept = _payloads(spool.peek(5000))
    assert kept == list(range(kept[0], 2000))  # the newest, in order
    assert spool.dropped == kept[0] > 0
    assert spool.size <= 20_000
    assert "route Archive: spool full" in caplog.text
    assert caplog.records[0].levelno == logging.ERROR
