"""The S7 route against a real S7 server (python-snap7's) and a real
Mosquitto: every data type read and written, bits, strings, flags and
outputs, coalesced reads, a refused address, and an outage ridden out."""

from __future__ import annotations

import struct
import time

import pytest
from lot_runtime import Site
from lot_runtime.routes.s7 import S7Route, S7Tag, command_bytes, plan
from support.s7 import S7Simulator

from .sites import RunningSite


@pytest.fixture
def plc():
    with S7Simulator() as simulator:
        yield simulator


def _route(plc, *tags: S7Tag, name="Press") -> S7Route:
    return S7Route(name=name, host="127.0.0.1", port=plc.port, tags=tags)


def _latest(seen, topic: str, wanted: bytes, timeout=5.0) -> None:
    found = seen.wait_until(
        lambda ms: any(m.topic == topic and m.payload == wanted for m in ms), timeout
    )
    got = [m.payload for m in found if m.topic == topic]
    assert any(p == wanted for p in got), f"{topic}: wanted {wanted!r}, got {got}"


READS = [
    # (data type, struct format, raw value, published)
    ("BYTE", "B", 250, b"250"),
    ("SINT", "b", -100, b"-100"),
    ("INT", "h", -1234, b"-1234"),
    ("WORD", "H", 65000, b"65000"),
    ("DINT", "i", -70000, b"-70000"),
    ("UDINT", "I", 4_000_000_000, b"4000000000"),
    ("LINT", "q", -(2**40), b"-1099511627776"),
    ("ULINT", "Q", 2**63 + 5, b"9223372036854775813"),
    ("REAL", "f", 21.7, b"21.7"),
    ("LREAL", "d", 1013.25, b"1013.25"),
]


def test_every_numeric_type_is_read_big_endian(mosquitto, plc):
    tags = []
    start = 0
    for index, (data_type, fmt, value, _) in enumerate(READS):
        data = struct.pack(">" + fmt, value)
        plc.write("DB", 1, start, data)
        tags.append(
            S7Tag(
                name=f"t{index}",
                db=1,
                start=start,
                topic=f"s7/t{index}",
                data_type=data_type,
                every=0.2,
            )
        )
        start += len(data)
    with mosquitto.collect("s7/#") as seen:
        site = Site(name="reads", routes=(_route(plc, *tags),))
        with RunningSite(site, mosquitto.url):
            for index, (*_, published) in enumerate(READS):
                _latest(seen, f"s7/t{index}", published)


def test_bits_strings_scaling_and_the_other_areas(mosquitto, plc):
    plc.write("DB", 2, 8, bytes([0b0000_1000]))  # DB2.DBX8.3
    plc.write("DB", 2, 20, bytes([10, 3]) + b"hi!")  # STRING[10] "hi!"
    plc.write("M", 0, 4, struct.pack(">h", 217))  # MW4: 21.7 degC at 0.1
    plc.write("I", 0, 0, bytes([0b0000_0010]))  # I0.1
    plc.write("Q", 0, 6, struct.pack(">i", -40))  # QD6
    tags = (
        S7Tag(name="ready", db=2, start=8, bit=3, topic="p/ready", data_type="BOOL"),
        S7Tag(name="other", db=2, start=8, bit=2, topic="p/other", data_type="BOOL"),
        S7Tag(
            name="label",
            db=2,
            start=20,
            length=10,
            topic="p/label",
            data_type="STRING",
        ),
        S7Tag(
            name="temp",
            area="M",
            start=4,
            topic="p/temp",
            data_type="INT",
            scaling=0.1,
        ),
        S7Tag(name="door", area="I", start=0, bit=1, topic="p/door", data_type="BOOL"),
        S7Tag(
            name="level",
            area="Q",
            start=6,
            topic="p/level",
            data_type="DINT",
            scaling=0.5,
            offset=100,
        ),
    )
    with mosquitto.collect("p/#") as seen:
        site = Site(name="areas", routes=(_route(plc, *tags),))
        with RunningSite(site, mosquitto.url):
            _latest(seen, "p/ready", b"true")
            _latest(seen, "p/other", b"false")
            _latest(seen, "p/label", b"hi!")
            _latest(seen, "p/temp", b"21.7")
            _latest(seen, "p/door", b"true")
            _latest(seen, "p/level", b"80")


WRITES = [
    # (data type, command, scaling, offset, bytes expected, read back)
    ("INT", b"-300", 1, 0, struct.pack(">h", -300), b"-300"),
    ("UINT", b"21.7", 0.1, 0, struct.pack(">H", 217), b"21.7"),
    ("DINT", b"-5", 1, 10, struct.pack(">i", -15), b"-5"),
    ("ULINT", b"18446744073709551615", 1, 0, b"\xff" * 8, b"18446744073709551615"),
    ("REAL", b"21.7", 1, 0, struct.pack(">f", 21.7), b"21.7"),
    ("LREAL", b"-2.5", 2, 0, struct.pack(">d", -1.25), b"-2.5"),
    ("STRING", b"ok", 1, 0, bytes([16, 2]) + b"ok", b"ok"),
]


def test_every_type_is_written_and_confirmed_by_a_read(mosquitto, plc):
    plc.write("DB", 1, 200, bytes([0b1000_0001]))
    plc.write("DB", 1, 120, bytes([16]))  # the STRING[16]'s declared length
    tags = [
        S7Tag(
            name=f"w{index}",
            db=1,
            start=20 * index,
            topic=f"w/{index}",
            command_topic=f"w/{index}/set",
            writable=True,
            data_type=data_type,
            length=16,
            scaling=scaling,
            offset=offset,
            every=5,
        )
        for index, (data_type, _, scaling, offset, *_) in enumerate(WRITES)
    ]
    tags.append(
        S7Tag(
            name="valve",
            db=1,
            start=200,
            bit=4,
            topic="w/valve",
            data_type="BOOL",
            writable=True,
            command_topic="w/valve/set",
            every=5,
        )
    )
    status = "lot/writes/routes/Press/status"
    with mosquitto.collect("w/#", status) as seen:
        site = Site(name="writes", routes=(_route(plc, *tags),))
        with RunningSite(site, mosquitto.url):
            _latest(seen, status, b"connected")
            mosquitto.publish("w/valve/set", b"on")
            for index, (_, command, *_rest) in enumerate(WRITES):
                mosquitto.publish(f"w/{index}/set", command)
            mosquitto.publish("w/0/set", b"not a number")  # ignored, logged once
            mosquitto.publish("w/0/set", b"70000")  # beyond INT: ignored
            for index, (*_, data, back) in enumerate(WRITES):
                _latest(seen, f"w/{index}", back)
                assert plc.read("DB", 1, 20 * index, len(data)) == data
            _latest(seen, "w/valve", b"true")
    # The bit was set and its neighbours kept.
    assert plc.read("DB", 1, 200, 1) == bytes([0b1001_0001])
    assert plc.read("DB", 1, 0, 2) == struct.pack(">h", -300)


def test_nearby_tags_are_read_in_one_request(mosquitto, plc):
    tags = [
        S7Tag(name=f"r{i}", db=1, start=2 * i, topic=f"c/{i}", every=0.5)
        for i in range(100)
    ]
    tags.append(S7Tag(name="far", db=1, start=900, topic="c/far", every=0.5))
    tags.append(S7Tag(name="flag", area="M", start=0, topic="c/flag", every=0.5))
    with mosquitto.collect("c/far") as seen:
        site = Site(name="coalesce", routes=(_route(plc, *tags),))
        with RunningSite(site, mosquitto.url):
            seen.wait_for(1)
            before = plc.reads
            seen.wait_for(3, timeout=5)
    # Two polls of 102 tags: one read of the 100 words in DB1, one of "far",
    # one of the flags (a third poll may have begun).
    assert plc.reads - before in (6, 7, 8, 9), plc.reads - before


def test_a_refused_read_is_split_and_the_rest_still_published(mosquitto, plc):
    tags = (
        S7Tag(name="good", db=1, start=0, topic="x/good", every=0.2),
        S7Tag(name="missing", db=7, start=0, topic="x/missing", every=0.2),
        S7Tag(name="inside", db=2, start=1020, topic="x/inside", every=0.2),
        S7Tag(name="beyond", db=2, start=1030, topic="x/beyond", every=0.2),
    )
    plc.write("DB", 1, 0, struct.pack(">h", 7))
    plc.write("DB", 2, 1020, struct.pack(">h", 9))
    with mosquitto.collect("x/#") as seen:
        site = Site(name="refused", routes=(_route(plc, *tags),))
        with RunningSite(site, mosquitto.url):
            _latest(seen, "x/good", b"7")
            _latest(seen, "x/inside", b"9")
            time.sleep(0.5)
            plc.write("DB", 1, 0, struct.pack(">h", 8))
            _latest(seen, "x/good", b"8")
    assert not seen.payloads("x/missing")
    assert not seen.payloads("x/beyond")


def test_an_outage_is_reported_and_ridden_out(mosquitto, plc):
    plc.write("DB", 1, 8, struct.pack(">f", 21.7))
    tag = S7Tag(
        name="tonnage", db=1, start=8, topic="o/tonnage", data_type="REAL", every=0.2
    )
    status = "lot/outage/routes/Press/status"
    with mosquitto.collect("o/tonnage", status) as seen:
        site = Site(name="outage", routes=(_route(plc, tag),))
        with RunningSite(site, mosquitto.url) as running:
            _latest(seen, "o/tonnage", b"21.7")
            plc.stop()
            seen.wait_until(
                lambda ms: any(m.payload.startswith(b"disconnected") for m in ms), 10
            )
            time.sleep(5)
            plc.write("DB", 1, 8, struct.pack(">f", 22.5))
            plc.start()
            _latest(seen, "o/tonnage", b"22.5", timeout=15)
            assert running.runner.connection.online
    statuses = [p.decode() for p in seen.payloads(status)]
    assert any(s.startswith("disconnected") for s in statuses)
    assert statuses[-1] == "connected"


def test_plan_joins_nearby_tags_of_one_area_only():
    tags = [
        S7Tag(name="a", db=1, start=0, topic="t"),
        S7Tag(name="b", db=1, start=2 + 16, topic="t"),  # gap of 16: joined
        S7Tag(name="c", db=1, start=20 + 17, topic="t"),  # gap of 17: apart
        S7Tag(name="d", db=2, start=0, topic="t"),
        S7Tag(name="e", area="M", start=0, topic="t"),
    ]
    spans = plan(tags)
    assert [(s.area, s.db, s.start, s.end) for s in spans] == [
        ("DB", 1, 0, 20),
        ("DB", 1, 37, 39),
        ("DB", 2, 0, 2),
        ("M", 0, 0, 2),
    ]


@pytest.mark.parametrize(
    ("tag", "payload", "problem"),
    [
        (S7Tag(name="i", start=0, topic="t", data_type="INT"), b"32768", "fit"),
        (S7Tag(name="u", start=0, topic="t", data_type="USINT"), b"-1", "fit"),
        (S7Tag(name="b", start=0, topic="t", data_type="BOOL"), b"maybe", "BOOL"),
        (
            S7Tag(name="s", start=0, topic="t", data_type="STRING", length=2),
            b"abc",
            "2 characters",
        ),
        (
            S7Tag(name="s", start=0, topic="t", data_type="STRING"),
            "€".encode(),
            "Latin",
        ),
    ],
)
def test_a_bad_command_is_refused_with_a_reason(tag, payload, problem):
    with pytest.raises(ValueError, match=problem):
        command_bytes(tag, payload)


def test_a_string_command_keeps_to_the_length_the_plc_declares():
    tag = S7Tag(name="s", start=0, topic="t", data_type="STRING")
    assert command_bytes(tag, b"abc", 3) == bytes([3, 3]) + b"abc"
    with pytest.raises(ValueError, match="3 characters"):
        command_bytes(tag, b"abcd", 3)


def test_a_bool_command_changes_only_its_bit():
    tag = S7Tag(name="b", start=0, bit=2, topic="t", data_type="BOOL")
    assert command_bytes(tag, b"true", 0b1000_0001) == bytes([0b1000_0101])
    assert command_bytes(tag, b"off", 0b1111_1111) == bytes([0b1111_1011])
