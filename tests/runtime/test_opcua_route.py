"""The OPC UA route against a real asyncua server and a real Mosquitto:
subscriptions that publish a change within 200 ms (also after the server
restarted), NodeIds and browse paths, polling, source timestamps, writes,
and user-name authentication."""

from __future__ import annotations

import json
import time

import pytest
from lot_runtime import Site
from lot_runtime.routes.opcua import OpcuaRoute, OpcuaTag
from support.opcua import OpcuaSimulator

from .sites import RunningSite


@pytest.fixture
def server():
    with OpcuaSimulator() as simulator:
        yield simulator


def _arrival(seen, topic: str, wanted: bytes, timeout=5.0) -> float:
    """Wait for ``wanted`` on ``topic``; the monotonic time it was seen."""
    found = seen.wait_until(
        lambda ms: any(m.topic == topic and m.payload == wanted for m in ms), timeout
    )
    got = [m.payload for m in found if m.topic == topic]
    assert wanted in got, f"{topic}: wanted {wanted!r}, got {got}"
    return time.monotonic()


def _back(messages, status: str) -> bool:
    """Whether the route said connected again after saying disconnected."""
    said = [m.payload for m in messages if m.topic == status]
    down = [i for i, p in enumerate(said) if p.startswith(b"disconnected")]
    return bool(down) and b"connected" in said[down[0] :]


def _route(server, *tags: OpcuaTag, name="Opc", **settings) -> OpcuaRoute:
    return OpcuaRoute(name=name, endpoint=server.url, tags=tags, **settings)


def test_a_change_is_published_within_200_ms_also_after_a_restart(mosquitto, server):
    tags = (
        OpcuaTag(name="flow", address="ns=2;s=Boiler.Flow", topic="ua/flow"),
        OpcuaTag(
            name="pressure",
            address="2:Boiler/2:Pressure",
            topic="ua/p",
            browse_path=True,
        ),
    )
    route = _route(server, *tags, name="Brewery")
    status = "lot/opc/routes/Brewery/status"
    with mosquitto.collect("ua/#", status) as seen:
        with RunningSite(Site(name="opc", routes=(route,)), mosquitto.url):
            _arrival(seen, status, b"connected", timeout=10)
            _arrival(seen, "ua/flow", b"0")
            for value, text in ((21.7, b"21.7"), (22.25, b"22.25")):
                start = time.monotonic()
                server.set("Flow", value)
                assert _arrival(seen, "ua/flow", text) - start < 0.2
            server.set("Pressure", 1.5)
            _arrival(seen, "ua/p", b"1.5")

            server.stop()
            seen.wait_until(
                lambda ms: any(m.payload.startswith(b"disconnected") for m in ms), 10
            )
            server.start()
            reconnected = seen.wait_until(lambda ms: _back(ms, status), 20)
            assert _back(reconnected, status), seen.payloads(status)
            time.sleep(0.5)
            start = time.monotonic()
            server.set("Flow", 3.3)
            assert _arrival(seen, "ua/flow", b"3.3") - start < 0.2
    statuses = seen.payloads(status)
    assert any(s.startswith(b"disconnected") for s in statuses)
    assert statuses[-1] == b"connected"


def test_polling_timestamps_scaling_and_writes(mosquitto, server):
    server.set("Count", 217)
    tags = (
        OpcuaTag(
            name="count",
            address="ns=2;s=Boiler.Count",
            topic="ua/count",
            poll=True,
            every=0.2,
            scaling=0.1,
        ),
        OpcuaTag(
            name="flow",
            address="ns=2;s=Boiler.Flow",
            topic="ua/flow",
            source_timestamp=True,
        ),
        OpcuaTag(
            name="setpoint",
            address="ns=2;s=Boiler.Setpoint",
            topic="ua/sp",
            writable=True,
            command_topic="ua/sp/set",
        ),
        OpcuaTag(
            name="running",
            address="ns=2;s=Boiler.Running",
            topic="ua/run",
            writable=True,
            command_topic="ua/run/set",
        ),
        OpcuaTag(
            name="label",
            address="ns=2;s=Boiler.Label",
            topic="ua/label",
            writable=True,
            command_topic="ua/label/set",
        ),
    )
    route = _route(server, *tags)
    with mosquitto.collect("ua/#", "lot/poll/routes/Opc/status") as seen:
        with RunningSite(Site(name="poll", routes=(route,)), mosquitto.url):
            _arrival(seen, "lot/poll/routes/Opc/status", b"connected", timeout=10)
            _arrival(seen, "ua/count", b"21.7")
            before = len(seen.payloads("ua/count"))
            time.sleep(0.7)
            assert len(seen.payloads("ua/count")) >= before + 2  # polled, not on change
            server.set("Flow", 21.7)
            found = seen.wait_until(
                lambda ms: any(
                    m.topic == "ua/flow" and b"21.7" in m.payload for m in ms
                )
            )
            sample = json.loads([m for m in found if m.topic == "ua/flow"][-1].payload)
            assert sample["value"] == 21.7
            assert sample["timestamp"].endswith("+00:00")
            mosquitto.publish("ua/sp/set", b"55.5")
            mosquitto.publish("ua/run/set", b"true")
            mosquitto.publish("ua/label/set", b"boiler two")
            mosquitto.publish("ua/sp/set", b"hot")  # ignored, logged once
            _arrival(seen, "ua/sp", b"55.5")
            _arrival(seen, "ua/run", b"true")
            _arrival(seen, "ua/label", b"boiler two")
    assert server.get("Setpoint") == 55.5
    assert server.get("Running") is True
    assert server.get("Label") == "boiler two"


def test_user_and_password(mosquitto):
    with OpcuaSimulator(users={"brewer": "hops"}) as server:
        tag = OpcuaTag(name="flow", address="ns=2;s=Boiler.Flow", topic="ua/flow")
        good = _route(
            server, tag, name="Good", auth_mode=1, username="brewer", password="hops"
        )
        bad = _route(
            server, tag, name="Bad", auth_mode=1, username="brewer", password="malt"
        )
        status = "lot/auth/routes/+/status"
        with mosquitto.collect("ua/flow", status) as seen:
            with RunningSite(Site(name="auth", routes=(good, bad)), mosquitto.url):
                _arrival(seen, "lot/auth/routes/Good/status", b"connected", timeout=10)
                _arrival(seen, "ua/flow", b"0")
                seen.wait_until(
                    lambda ms: any(
                        m.topic == "lot/auth/routes/Bad/status"
                        and m.payload.startswith(b"disconnected")
                        for m in ms
                    ),
                    10,
                )
