"""The Allen-Bradley route against a real EtherNet/IP controller (cpppo's
Logix simulator, in its own process) and a real Mosquitto: every data type
read and written, scaling, array elements, batched reads, a tag the
controller does not have, a declared type the controller contradicts, and
an outage ridden out."""

from __future__ import annotations

import logging
import time

import pylogix
import pytest
from lot_runtime import Site
from lot_runtime.routes.logix import (
    LogixRoute,
    LogixTag,
    attribute_value,
    command_value,
    route_path,
)
from support.logix import LogixSimulator

from .sites import RunningSite

TYPES = [
    # (data type, value set in the controller, published)
    ("SINT", -100, b"-100"),
    ("INT", -1234, b"-1234"),
    ("DINT", -70000, b"-70000"),
    ("LINT", -(2**40), b"-1099511627776"),
    ("USINT", 250, b"250"),
    ("UINT", 65000, b"65000"),
    ("UDINT", 4_000_000_000, b"4000000000"),
    ("ULINT", 2**63 + 5, b"9223372036854775813"),
    ("REAL", 21.7, b"21.7"),
    ("LREAL", 1013.25, b"1013.25"),
    ("BOOL", True, b"true"),
]
# A Logix STRING is a structure cpppo does not model; its SSTRING is what
# pylogix reads and writes the same way, so STRING tags are tested on one.
PLC_TAGS = [f"t_{t.lower()}={t}" for t, _, _ in TYPES] + [
    "label=SSTRING",
    "temps=INT[4]",
    "level=DINT",
]


@pytest.fixture
def plc():
    with LogixSimulator(*PLC_TAGS) as simulator:
        yield simulator


def _route(plc, *tags: LogixTag, name="Packer") -> LogixRoute:
    return LogixRoute(
        name=name, host="127.0.0.1", port=plc.port, tags=tags, timeout=2.0
    )


def _latest(seen, topic: str, wanted: bytes, timeout=10.0) -> None:
    found = seen.wait_until(
        lambda ms: any(m.topic == topic and m.payload == wanted for m in ms), timeout
    )
    got = [m.payload for m in found if m.topic == topic]
    assert any(p == wanted for p in got), f"{topic}: wanted {wanted!r}, got {got}"


def test_every_type_an_element_and_a_scaled_value_are_read(mosquitto, plc):
    for data_type, value, _ in TYPES:
        plc.set(f"t_{data_type.lower()}", value)
    plc.set("label", "hello")
    plc.set("temps[2]", 217)
    plc.set("level", 40)
    tags = [
        LogixTag(
            name=data_type,
            address=f"t_{data_type.lower()}",
            topic=f"ab/{data_type}",
            data_type=data_type,
            every=0.3,
        )
        for data_type, _, _ in TYPES
    ]
    tags += [
        LogixTag(name="label", address="label", topic="ab/label", data_type="STRING"),
        LogixTag(
            name="temp",
            address="temps[2]",
            topic="ab/temp",
            data_type="INT",
            scaling=0.1,
        ),
        LogixTag(
            name="level",
            address="level",
            topic="ab/level",
            data_type="DINT",
            scaling=0.5,
            offset=100,
        ),
    ]
    with mosquitto.collect("ab/#") as seen:
        site = Site(name="reads", routes=(_route(plc, *tags),))
        with RunningSite(site, mosquitto.url):
            for data_type, _, published in TYPES:
                _latest(seen, f"ab/{data_type}", published)
            _latest(seen, "ab/label", b"hello")
            _latest(seen, "ab/temp", b"21.7")
            _latest(seen, "ab/level", b"120")


WRITES = [
    # (data type, command, scaling, offset, value the controller holds after)
    ("INT", b"-300", 1, 0, -300),
    ("UINT", b"21.7", 0.1, 0, 217),
    ("DINT", b"-5", 1, 10, -15),
    ("ULINT", b"18446744073709551615", 1, 0, 2**64 - 1),
    ("REAL", b"21.7", 1, 0, pytest.approx(21.7, rel=1e-6)),
    ("LREAL", b"-2.5", 2, 0, -1.25),
    ("BOOL", b"on", 1, 0, True),
]


# What a command publishes when not its own text.
_PUBLISHED = {b"on": b"true"}


def test_every_type_is_written_and_confirmed_by_a_read(mosquitto, plc):
    tags = [
        LogixTag(
            name=data_type,
            address=f"t_{data_type.lower()}",
            topic=f"w/{data_type}",
            command_topic=f"w/{data_type}/set",
            writable=True,
            data_type=data_type,
            scaling=scaling,
            offset=offset,
            every=5,
        )
        for data_type, _, scaling, offset, _ in WRITES
    ]
    tags.append(
        LogixTag(
            name="label",
            address="label",
            topic="w/label",
            command_topic="w/label/set",
            writable=True,
            data_type="STRING",
            length=10,
            every=5,
        )
    )
    status = "lot/writes/routes/Packer/status"
    with mosquitto.collect("w/#", status) as seen:
        site = Site(name="writes", routes=(_route(plc, *tags),))
        with RunningSite(site, mosquitto.url):
            _latest(seen, status, b"connected")
            _latest(seen, "w/INT", b"0")  # the first poll has learnt the types
            mosquitto.publish("w/INT/set", b"not a number")  # ignored, logged
            mosquitto.publish("w/INT/set", b"70000")  # beyond INT: ignored
            mosquitto.publish("w/label/set", b"far too long a label")  # ignored
            for data_type, command, *_ in WRITES:
                mosquitto.publish(f"w/{data_type}/set", command)
            mosquitto.publish("w/label/set", b"ok")
            for data_type, command, *_ in WRITES:
                _latest(seen, f"w/{data_type}", _PUBLISHED.get(command, command))
            _latest(seen, "w/label", b"ok")
    for data_type, _, _, _, held in WRITES:
        assert plc.get(f"t_{data_type.lower()}") == held, data_type
    assert plc.get("label") == "ok"


def test_tags_of_one_period_are_read_in_one_request(mosquitto, plc, monkeypatch):
    requests: list[object] = []
    read = pylogix.PLC.Read

    def counted(self, tag, *args, **kwargs):
        requests.append(tag)
        return read(self, tag, *args, **kwargs)

    monkeypatch.setattr(pylogix.PLC, "Read", counted)
    numbers = [
        LogixTag(name=t, address=f"t_{t.lower()}", topic=f"b/{t}", data_type=t)
        for t in ("SINT", "INT", "DINT", "REAL")
    ]
    label = LogixTag(name="label", address="label", topic="b/label", data_type="STRING")
    with mosquitto.collect("b/#") as seen:
        site = Site(name="batch", routes=(_route(plc, *numbers, label),))
        with RunningSite(site, mosquitto.url):
            seen.wait_until(lambda ms: len({m.topic for m in ms}) == 5, 10)
            seen.wait_until(lambda ms: len(ms) >= 10, 10)  # a second poll
    batches = [r for r in requests if isinstance(r, list)]
    assert batches, requests
    assert all(b == ["t_sint", "t_int", "t_dint", "t_real"] for b in batches)
    # Nothing else but the STRING, read on its own.
    assert {r for r in requests if not isinstance(r, list)} == {"label"}


def test_a_tag_the_plc_lacks_is_reported_once_and_the_rest_go_on(
    mosquitto, plc, caplog
):
    plc.set("level", 7)
    tags = (
        LogixTag(name="level", address="level", topic="x/level", every=0.2),
        LogixTag(name="ghost", address="NoSuchTag", topic="x/ghost", every=0.2),
    )
    with caplog.at_level(logging.WARNING, logger="lot"):
        with mosquitto.collect("x/#") as seen:
            site = Site(name="missing", routes=(_route(plc, *tags),))
            with RunningSite(site, mosquitto.url):
                _latest(seen, "x/level", b"7")
                time.sleep(0.6)
                plc.set("level", 8)
                _latest(seen, "x/level", b"8")
    assert not seen.payloads("x/ghost")
    ghost = [r for r in caplog.records if "tag ghost" in r.getMessage()]
    assert len(ghost) == 1, [r.getMessage() for r in ghost]
    assert "refuses to read it" in ghost[0].getMessage()


def test_a_type_the_plc_contradicts_is_warned_and_not_written(mosquitto, plc, caplog):
    plc.set("level", 70000)
    tag = LogixTag(
        name="level",
        address="level",
        topic="y/level",
        data_type="INT",  # the controller holds a DINT
        writable=True,
        command_topic="y/level/set",
        every=0.2,
    )
    with caplog.at_level(logging.WARNING, logger="lot"):
        with mosquitto.collect("y/#") as seen:
            site = Site(name="types", routes=(_route(plc, tag),))
            with RunningSite(site, mosquitto.url):
                _latest(seen, "y/level", b"70000")
                mosquitto.publish("y/level/set", b"5")
                time.sleep(1.0)
    assert plc.get("level") == 70000
    messages = [r.getMessage() for r in caplog.records]
    assert any("is DINT, not INT" in m for m in messages), messages
    assert any("types disagree" in m for m in messages), messages


def test_an_outage_is_reported_and_ridden_out(mosquitto, plc):
    plc.set("t_real", 21.7)
    tag = LogixTag(
        name="speed", address="t_real", topic="o/speed", data_type="REAL", every=0.2
    )
    status = "lot/outage/routes/Packer/status"
    with mosquitto.collect("o/speed", status) as seen:
        site = Site(name="outage", routes=(_route(plc, tag),))
        with RunningSite(site, mosquitto.url) as running:
            _latest(seen, "o/speed", b"21.7")
            plc.stop()
            seen.wait_until(
                lambda ms: any(m.payload.startswith(b"disconnected") for m in ms), 10
            )
            time.sleep(3)
            plc.start()
            plc.set("t_real", 22.5)
            _latest(seen, "o/speed", b"22.5", timeout=20)
            assert running.runner.connection.online
    statuses = [p.decode() for p in seen.payloads(status)]
    assert any(s.startswith("disconnected") for s in statuses)
    assert statuses[-1] == "connected"


def test_a_micro800_is_read_tag_by_tag(mosquitto, plc, monkeypatch):
    requests: list[object] = []
    read = pylogix.PLC.Read

    def counted(self, tag, *args, **kwargs):
        requests.append(tag)
        return read(self, tag, *args, **kwargs)

    monkeypatch.setattr(pylogix.PLC, "Read", counted)
    plc.set("t_int", 5)
    plc.set("level", 6)
    tags = (
        LogixTag(name="a", address="t_int", topic="m/a", data_type="INT"),
        LogixTag(name="b", address="level", topic="m/b"),
    )
    route = LogixRoute(
        name="Micro", host="127.0.0.1", port=plc.port, tags=tags, micro800=True
    )
    with mosquitto.collect("m/#") as seen:
        with RunningSite(Site(name="micro", routes=(route,)), mosquitto.url):
            _latest(seen, "m/a", b"5")
            _latest(seen, "m/b", b"6")
    assert requests and not any(isinstance(r, list) for r in requests)


def _tag(data_type: str = "DINT", **settings) -> LogixTag:
    return LogixTag(name="t", address="t", topic="t", data_type=data_type, **settings)


def test_cip_object_attributes_are_read_beside_tags(mosquitto, plc, caplog):
    plc.set("level", 12)
    identity = [
        ("vendor", (1, 1, 1), "UINT", b"1"),
        ("device_type", (1, 1, 2), "UINT", b"14"),
        ("product_code", (1, 1, 3), "UINT", b"54"),
        ("product_name", (1, 1, 7), "STRING", b"1756-L61/B LOGIX5561"),
    ]
    tags = [
        LogixTag(
            name=name,
            address=".".join(map(str, where)),
            attribute=where,
            topic=f"id/{name}",
            data_type=data_type,
        )
        for name, where, data_type, _ in identity
    ]
    tags.append(
        LogixTag(name="nothing", address="1.1.99", attribute=(1, 1, 99), topic="id/x")
    )
    tags.append(LogixTag(name="level", address="level", topic="id/level", every=0.2))
    with caplog.at_level(logging.WARNING, logger="lot"):
        with mosquitto.collect("id/#") as seen:
            site = Site(name="identity", routes=(_route(plc, *tags),))
            with RunningSite(site, mosquitto.url):
                for name, _, _, published in identity:
                    _latest(seen, f"id/{name}", published)
                _latest(seen, "id/level", b"12")
                plc.set("level", 13)
                _latest(seen, "id/level", b"13")
    assert not seen.payloads("id/x")
    refused = [
        r.getMessage() for r in caplog.records if "tag nothing" in r.getMessage()
    ]
    assert len(refused) == 1 and "refuses to read it" in refused[0], refused


def test_attributes_decode_little_endian():
    assert attribute_value("UINT", b"\x01\x02") == 0x0201
    assert attribute_value("DINT", b"\xff\xff\xff\xff") == -1
    assert attribute_value("REAL", b"\x00\x00\xc0\x3f") == 1.5
    assert attribute_value("BOOL", b"\x02") is True
    assert attribute_value("STRING", b"\x02hi!") == "hi"
    with pytest.raises(ValueError, match="takes 4"):
        attribute_value("UDINT", b"\x01\x00")
    with pytest.raises(ValueError, match="shorter"):
        attribute_value("STRING", b"\x05ab")


@pytest.mark.parametrize(
    ("tag", "payload", "problem"),
    [
        (_tag("INT"), b"32768", "fit"),
        (_tag("USINT"), b"-1", "fit"),
        (_tag("DINT"), b"1e30", "fit"),
        (_tag("BOOL"), b"maybe", "BOOL"),
        (_tag(), b"ten", "not a number"),
        (_tag("STRING", length=2), b"abc", "2 characters"),
    ],
)
def test_a_bad_command_is_refused_with_a_reason(tag, payload, problem):
    with pytest.raises(ValueError, match=problem):
        command_value(tag, payload)


def test_commands_are_unscaled_and_rounded():
    tag = _tag("INT", scaling=0.1)
    assert command_value(tag, b"21.74") == 217
    real = _tag("REAL", offset=-40)
    assert command_value(real, b"0") == 40.0
    assert command_value(_tag("BOOL"), b"0") is False


def test_route_paths_are_pairs_of_port_and_link():
    assert route_path("1,0") == [(1, 0)]
    assert route_path("1, 0, 2, 192.168.1.10, 1, 3") == [
        (1, 0),
        (2, "192.168.1.10"),
        (1, 3),
    ]
    assert route_path("") == []
    with pytest.raises(ValueError, match="pairs"):
        route_path("1,0,2")
