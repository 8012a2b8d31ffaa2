"""The BACnet route against a real BACnet/IP device (a bacpypes3
application) and a real Mosquitto: present values of analog, binary and
multi-state objects read and written, an object the device does not have,
and an outage the route rides out."""

from __future__ import annotations

import time

import pytest
from lot_runtime import Site
from lot_runtime.routes.bacnet import BacnetRoute, BacnetTag, command_value
from support.bacnet import BacnetSimulator

from .sites import RunningSite


@pytest.fixture
def device():
    with BacnetSimulator() as simulator:
        yield simulator


def _route(device, *tags: BacnetTag, name="Bms") -> BacnetRoute:
    return BacnetRoute(
        name=name,
        host=device.host,
        port=device.port,
        device_id=device.device_id,
        local_address="127.0.0.1:0",
        tags=tags,
    )


def _latest(seen, topic: str, wanted: bytes, timeout=5.0) -> None:
    found = seen.wait_until(
        lambda ms: any(m.topic == topic and m.payload == wanted for m in ms), timeout
    )
    got = [m.payload for m in found if m.topic == topic]
    assert any(p == wanted for p in got), f"{topic}: wanted {wanted!r}, got {got}"


def test_present_values_are_read_and_scaled(mosquitto, device):
    device.set("analog-input", 0, 21.7)
    device.set("binary-input", 2, "active")
    device.set("multi-state-value", 3, 3)
    tags = (
        BacnetTag(name="temp", object_type="analog-input", instance=0, topic="b/t"),
        BacnetTag(
            name="tenths",
            object_type="analog-input",
            instance=0,
            topic="b/tenths",
            scaling=10,
        ),
        BacnetTag(name="door", object_type="binary-input", instance=2, topic="b/d"),
        BacnetTag(
            name="mode", object_type="multi-state-value", instance=3, topic="b/m"
        ),
        BacnetTag(name="none", object_type="analog-input", instance=9, topic="b/n"),
    )
    with mosquitto.collect("b/#") as seen:
        site = Site(name="reads", routes=(_route(device, *tags),))
        with RunningSite(site, mosquitto.url):
            _latest(seen, "b/t", b"21.7")
            _latest(seen, "b/tenths", b"217")
            _latest(seen, "b/d", b"true")
            _latest(seen, "b/m", b"3")
            device.set("analog-input", 0, 19.5)
            _latest(seen, "b/t", b"19.5")
    assert not seen.payloads("b/n")  # no such object: logged once, skipped


def test_tags_are_read_sixteen_objects_to_a_request(mosquitto, device):
    tags = [
        BacnetTag(
            name=f"t{i}",
            object_type="analog-input",
            instance=0,
            topic=f"m/{i}",
            every=0.5,
        )
        for i in range(20)
    ]
    with mosquitto.collect("m/19") as seen:
        site = Site(name="many", routes=(_route(device, *tags),))
        with RunningSite(site, mosquitto.url):
            seen.wait_for(1)
            before = dict(device.requests)
            seen.wait_for(3, timeout=5)
            after = dict(device.requests)
    # Two polls of 20 objects: two ReadPropertyMultiple each (16 + 4), and no
    # ReadProperty (a third poll may have begun).
    polls = after["ReadPropertyMultiple"] - before["ReadPropertyMultiple"]
    assert polls in (4, 5, 6), after
    assert after["ReadProperty"] == before["ReadProperty"]


def test_a_device_without_read_multiple_is_read_one_object_at_a_time(mosquitto):
    tags = [
        BacnetTag(name=f"t{i}", object_type="analog-input", instance=0, topic=f"s/{i}")
        for i in range(3)
    ]
    with (
        BacnetSimulator(read_multiple=False) as device,
        mosquitto.collect("s/#") as seen,
    ):
        device.set("analog-input", 0, 5.5)
        site = Site(name="single", routes=(_route(device, *tags),))
        with RunningSite(site, mosquitto.url):
            for i in range(3):
                _latest(seen, f"s/{i}", b"5.5")
        assert device.requests["ReadProperty"] >= 4  # the probe, then each tag


def test_commands_are_written_at_their_priority_and_read_back(mosquitto, device):
    tags = (
        BacnetTag(
            name="setpoint",
            object_type="analog-value",
            instance=0,
            topic="w/sp",
            writable=True,
            command_topic="w/sp/set",
            every=5,
        ),
        BacnetTag(
            name="fan",
            object_type="binary-value",
            instance=1,
            topic="w/fan",
            writable=True,
            command_topic="w/fan/set",
            every=5,
        ),
        BacnetTag(
            name="mode",
            object_type="multi-state-value",
            instance=3,
            topic="w/mode",
            writable=True,
            command_topic="w/mode/set",
            every=5,
        ),
    )
    status = "lot/writes/routes/Bms/status"
    with mosquitto.collect("w/#", status) as seen:
        site = Site(name="writes", routes=(_route(device, *tags),))
        with RunningSite(site, mosquitto.url):
            _latest(seen, status, b"connected")
            mosquitto.publish("w/sp/set", b"23.5")
            mosquitto.publish("w/fan/set", b"on")
            mosquitto.publish("w/mode/set", b"2")
            mosquitto.publish("w/mode/set", b"2.5")  # not a state: ignored
            _latest(seen, "w/sp", b"23.5")
            _latest(seen, "w/fan", b"true")
            _latest(seen, "w/mode", b"2")
            assert device.get("analog-value", 0) == 23.5
            assert str(device.get("binary-value", 1)) == "active"
            assert device.get("multi-state-value", 3) == 2


def test_an_outage_is_reported_and_ridden_out(mosquitto, device):
    device.set("analog-input", 0, 21.7)
    tag = BacnetTag(
        name="temp", object_type="analog-input", instance=0, topic="o/t", every=0.2
    )
    status = "lot/outage/routes/Bms/status"
    with mosquitto.collect("o/t", status) as seen:
        site = Site(name="outage", routes=(_route(device, tag),))
        with RunningSite(site, mosquitto.url) as running:
            _latest(seen, "o/t", b"21.7")
            device.stop()
            seen.wait_until(
                lambda ms: any(m.payload.startswith(b"disconnected") for m in ms), 10
            )
            time.sleep(3)
            device.values[("analog-input", 0)] = 22.5
            device.start()
            _latest(seen, "o/t", b"22.5", timeout=20)
            assert running.runner.connection.online
    statuses = [p.decode() for p in seen.payloads(status)]
    assert any(s.startswith("disconnected") for s in statuses)
    assert statuses[-1] == "connected"


@pytest.mark.parametrize(
    ("object_type", "payload", "expected"),
    [
        ("analog-value", b"21.5", 21.5),
        ("binary-output", b"off", "inactive"),
        ("binary-value", b"1", "active"),
        ("multi-state-output", b"4", 4),
    ],
)
def test_a_command_becomes_the_value_its_object_takes(object_type, payload, expected):
    tag = BacnetTag(name="t", object_type=object_type, instance=0, topic="t")
    assert command_value(tag, payload) == expected


@pytest.mark.parametrize(
    ("object_type", "payload"),
    [
        ("analog-value", b"warm"),
        ("binary-value", b"maybe"),
        ("multi-state-value", b"0"),
    ],
)
def test_a_bad_command_is_refused(object_type, payload):
    tag = BacnetTag(name="t", object_type=object_type, instance=0, topic="t")
    with pytest.raises(ValueError):
        command_value(tag, payload)
