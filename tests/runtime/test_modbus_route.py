"""The Modbus route against a real pymodbus server and a real Mosquitto:
every data type read and written, word and byte order, scaling and offset,
coalesced reads, publish on change, and an outage the route rides out."""

from __future__ import annotations

import struct
import time

import pytest
from lot_runtime import Site
from lot_runtime.routes.modbus import ModbusRoute, ModbusTag
from support.modbus import ModbusSimulator

from .sites import RunningSite


@pytest.fixture
def device():
    with ModbusSimulator() as simulator:
        yield simulator


def _words(fmt: str, value, word_order="big") -> list[int]:
    data = struct.pack(">" + fmt, value)
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words if word_order == "big" else words[::-1]


def _route(device, *tags: ModbusTag, name="Plc") -> ModbusRoute:
    return ModbusRoute(
        name=name, host="127.0.0.1", port=device.port, unit_id=3, tags=tags
    )


def _latest(seen, topic: str, wanted: bytes, timeout=5.0) -> None:
    found = seen.wait_until(
        lambda ms: any(m.topic == topic and m.payload == wanted for m in ms), timeout
    )
    got = [m.payload for m in found if m.topic == topic]
    assert any(p == wanted for p in got), f"{topic}: wanted {wanted!r}, got {got}"


READS = [
    # (data type, fmt, raw value, word order, published)
    ("INT16", "h", -1234, "big", b"-1234"),
    ("UINT16", "H", 65000, "big", b"65000"),
    ("INT32", "i", -70000, "big", b"-70000"),
    ("UINT32", "I", 4_000_000_000, "little", b"4000000000"),
    ("INT64", "q", -(2**40), "big", b"-1099511627776"),
    ("UINT64", "Q", 2**63 + 5, "little", b"9223372036854775813"),
    ("FLOAT32", "f", 21.7, "big", b"21.7"),
    ("FLOAT32", "f", -0.1, "little", b"-0.1"),
    ("FLOAT64", "d", 1013.25, "big", b"1013.25"),
    ("FLOAT64", "d", 0.1, "little", b"0.1"),
]


def test_every_numeric_type_and_word_order_is_read(mosquitto, device):
    tags = []
    address = 0
    for index, (data_type, fmt, value, order, _) in enumerate(READS):
        words = _words(fmt, value, order)
        device.write("holding_register", address, words)
        tags.append(
            ModbusTag(
                name=f"t{index}",
                address=address,
                topic=f"plc/t{index}",
                data_type=data_type,
                word_order=order,
                every=0.2,
            )
        )
        address += len(words)
    route = _route(device, *tags)
    with mosquitto.collect("plc/#") as seen:
        with RunningSite(Site(name="reads", routes=(route,)), mosquitto.url):
            for index, (*_, published) in enumerate(READS):
                _latest(seen, f"plc/t{index}", published)


def test_bits_registers_scaling_offset_byte_order_and_text(mosquitto, device):
    device.write("coil", 5, [1])
    device.write("discrete_input", 6, [1])
    device.write("input_register", 200, [217])  # 21.7 degC at SCALING 0.1
    device.write("input_register", 201, [_words("h", -40)[0]])
    device.write("holding_register", 300, [0xAD41, 0x9A99])  # 21.7, bytes swapped
    device.write("holding_register", 310, [0x6869, 0x2100])  # "hi!" big-endian
    tags = (
        ModbusTag(
            name="pump", address=5, topic="p/coil", table="coil", data_type="BOOL"
        ),
        ModbusTag(
            name="door",
            address=6,
            topic="p/di",
            table="discrete_input",
            data_type="BOOL",
        ),
        ModbusTag(
            name="temp",
            address=200,
            topic="p/temp",
            table="input_register",
            data_type="INT16",
            scaling=0.1,
        ),
        ModbusTag(
            name="level",
            address=201,
            topic="p/level",
            table="input_register",
            data_type="INT16",
            scaling=0.5,
            offset=100,
        ),
        ModbusTag(
            name="swapped",
            address=300,
            topic="p/swapped",
            data_type="FLOAT32",
            byte_order="little",
        ),
        ModbusTag(
            name="label", address=310, topic="p/label", data_type="STRING", length=4
        ),
    )
    route = _route(device, *tags)
    with mosquitto.collect("p/#") as seen:
        with RunningSite(Site(name="bits", routes=(route,)), mosquitto.url):
            _latest(seen, "p/coil", b"true")
            _latest(seen, "p/di", b"true")
            _latest(seen, "p/temp", b"21.7")
            _latest(seen, "p/level", b"80")
            _latest(seen, "p/swapped", b"21.7")
            _latest(seen, "p/label", b"hi!")


WRITES = [
    # (data type, command, scaling, offset, word order, registers expected, read back)
    ("INT16", b"-300", 1, 0, "big", _words("h", -300), b"-300"),
    ("UINT16", b"21.7", 0.1, 0, "big", [217], b"21.7"),
    ("INT32", b"-5", 1, 10, "little", _words("i", -15, "little"), b"-5"),
    ("UINT32", b"4000000000", 1, 0, "big", _words("I", 4_000_000_000), b"4000000000"),
    (
        "INT64",
        b"-123456789012",
        1,
        0,
        "little",
        _words("q", -123456789012, "little"),
        b"-123456789012",
    ),
    (
        "UINT64",
        b"18446744073709551615",
        1,
        0,
        "big",
        [65535] * 4,
        b"18446744073709551615",
    ),
    ("FLOAT32", b"21.7", 1, 0, "little", _words("f", 21.7, "little"), b"21.7"),
    ("FLOAT64", b"-2.5", 2, 0, "big", _words("d", -1.25), b"-2.5"),
    ("BOOL", b"true", 1, 0, "big", [1], b"true"),
    ("STRING", b"ok", 1, 0, "big", [0x6F6B, 0], b"ok"),
]


def test_every_type_is_written_and_confirmed_by_a_read(mosquitto, device):
    tags = []
    for index, (data_type, _, scaling, offset, order, *_) in enumerate(WRITES):
        tags.append(
            ModbusTag(
                name=f"w{index}",
                address=100 + 10 * index,
                topic=f"w/{index}",
                command_topic=f"w/{index}/set",
                writable=True,
                data_type=data_type,
                scaling=scaling,
                offset=offset,
                word_order=order,
                length=2,
                every=5,
            )
        )
    tags.append(
        ModbusTag(
            name="valve",
            address=9,
            topic="w/valve",
            table="coil",
            data_type="BOOL",
            writable=True,
            command_topic="w/valve/set",
            every=5,
        )
    )
    route = _route(device, *tags)
    with mosquitto.collect("w/#", "lot/writes/routes/Plc/status") as seen:
        with RunningSite(Site(name="writes", routes=(route,)), mosquitto.url):
            _latest(seen, "lot/writes/routes/Plc/status", b"connected")
            mosquitto.publish("w/valve/set", b"on")
            for index, (_, command, *_rest) in enumerate(WRITES):
                mosquitto.publish(f"w/{index}/set", command)
            mosquitto.publish("w/0/set", b"not a number")  # ignored, logged once
            for index, (*_, words, back) in enumerate(WRITES):
                _latest(seen, f"w/{index}", back)
                assert (
                    device.read("holding_register", 100 + 10 * index, len(words))
                    == words
                )
            _latest(seen, "w/valve", b"true")
            assert device.read("coil", 9) == [1]


def test_adjacent_tags_are_read_in_one_request(mosquitto, device):
    tags = [
        ModbusTag(name=f"r{i}", address=i, topic=f"c/{i}", every=0.5)
        for i in range(125)
    ]
    tags.append(ModbusTag(name="far", address=900, topic="c/far", every=0.5))
    route = _route(device, *tags)
    with mosquitto.collect("c/far") as seen:
        with RunningSite(Site(name="coalesce", routes=(route,)), mosquitto.url):
            seen.wait_for(1)
            before = device.requests
            seen.wait_for(3, timeout=5)
    # Two polls of 126 tags: one request for the 125 adjacent, one for "far".
    assert device.requests - before in (4, 6), device.requests - before


def test_publish_on_change_with_a_deadband(mosquitto, device):
    device.write("holding_register", 0, [100])
    tag = ModbusTag(name="p", address=0, topic="d/p", deadband=5, every=0.1)
    route = _route(device, tag)
    with mosquitto.collect("d/p") as seen:
        with RunningSite(Site(name="deadband", routes=(route,)), mosquitto.url):
            seen.wait_for(1)
            device.write("holding_register", 0, [103])  # within the deadband
            time.sleep(0.5)
            device.write("holding_register", 0, [110])
            _latest(seen, "d/p", b"110")
    assert seen.payloads("d/p") == [b"100", b"110"]


def test_a_device_outage_is_reported_and_ridden_out(mosquitto, device):
    device.write("holding_register", 10, _words("f", 21.7))
    tag = ModbusTag(
        name="flow", address=10, topic="o/flow", data_type="FLOAT32", every=0.2
    )
    route = _route(device, tag, name="Boiler")
    status = "lot/outage/routes/Boiler/status"
    with mosquitto.collect("o/flow", status) as seen:
        with RunningSite(Site(name="outage", routes=(route,)), mosquitto.url) as site:
            _latest(seen, "o/flow", b"21.7")
            device.stop()
            seen.wait_until(
                lambda ms: any(m.payload.startswith(b"disconnected") for m in ms), 5
            )
            time.sleep(10)
            device.start()
            device.write("holding_register", 10, _words("f", 22.5))
            _latest(seen, "o/flow", b"22.5", timeout=15)
            assert site.runner.connection.online
    statuses = [p.decode() for p in seen.payloads(status)]
    assert statuses[0] == "connected" or statuses[:2] == ["connecting", "connected"]
    assert any(s.startswith("disconnected") for s in statuses)
    assert statuses[-1] == "connected"
