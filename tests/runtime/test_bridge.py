"""The MQTT_BRIDGE route in process, on two real Mosquittos: wildcard levels
carried over, `both` without echoes, status and counters."""

from __future__ import annotations

import time

from lot_runtime import Site
from lot_runtime.routes.bridge import (
    BridgeMapping,
    BridgeRoute,
    RemoteBroker,
    SiteBroker,
    _Hop,
    _Side,
)
from support.mosquitto import Mosquitto

from .sites import RunningSite


def _written(read: str, write: str, topic: str) -> str | None:
    side = _Side("source", SiteBroker())
    return _Hop(side, read, write, side).topic_for(topic)


def test_wildcard_levels_are_carried_over_in_order():
    assert _written("a/+/b/+", "x/+/y/+", "a/1/b/2") == "x/1/y/2"
    assert _written("summaries/#", "depot-north/summaries/#", "summaries/p/30s") == (
        "depot-north/summaries/p/30s"
    )
    assert _written("summaries/#", "up/summaries/#", "summaries") == "up/summaries"
    assert _written("a/+/#", "b/+/c/#", "a/1/2/3") == "b/1/c/2/3"
    assert _written("a/+", "fixed/topic", "a/9") == "fixed/topic"
    assert _written("a/+", "b/+", "c/9") is None


def test_both_forwards_each_way_and_never_echoes(tmp_path, mosquitto):
    with Mosquitto(tmp_path / "cloud") as cloud:
        route = BridgeRoute(
            name="Mirror",
            source=SiteBroker(),
            destination=RemoteBroker(
                address="127.0.0.1", port=cloud.port, client_id="mirror-test"
            ),
            mappings=(BridgeMapping("cmd", "plant/+/cmd/#", "site-a/+/cmd/#", "both"),),
        )
        site = Site(name="mirror", routes=(route,))
        environ = {"LOT_STATE_DIR": str(tmp_path / "state")}
        with (
            cloud.collect("site-a/#") as up,
            mosquitto.collect("plant/#") as down,
            RunningSite(site, mosquitto.url, environ=environ),
        ):
            status = "lot/mirror/routes/Mirror/status"
            deadline = time.monotonic() + 10
            while mosquitto.retained(status, 0.3) != b"connected":
                assert time.monotonic() < deadline, "the bridge never connected"
            mosquitto.publish("plant/p1/cmd/a/b", b"1")
            cloud.publish("site-a/p2/cmd/x", b"2")
            up.wait_for(2, timeout=10)
            down.wait_for(2, timeout=10)
            time.sleep(1.0)  # room for an echo to show up

    pairs = {(m.topic, m.payload) for m in up.messages}
    assert pairs == {("site-a/p1/cmd/a/b", b"1"), ("site-a/p2/cmd/x", b"2")}
    assert len(up.messages) == 2
    pairs = {(m.topic, m.payload) for m in down.messages}
    assert pairs == {("plant/p1/cmd/a/b", b"1"), ("plant/p2/cmd/x", b"2")}
    assert len(down.messages) == 2
    assert route.counters["echoes"] == 2
    assert route.counters["forwarded"] == 2


def test_retained_flags_cross_the_bridge_both_ways(tmp_path, mosquitto):
    with Mosquitto(tmp_path / "cloud") as cloud:
        # Retained before the bridge subscribes: it comes with the subscription.
        cloud.publish("depot-north/orders/p-07/limit", b"9", retain=True)
        route = BridgeRoute(
            name="Uplink",
            source=SiteBroker(),
            destination=RemoteBroker(
                address="127.0.0.1", port=cloud.port, client_id="uplink-test"
            ),
            mappings=(
                BridgeMapping("up", "summaries/#", "depot-north/summaries/#"),
                BridgeMapping("down", "depot-north/orders/#", "orders/#", "in"),
            ),
        )
        site = Site(name="uplink", routes=(route,))
        environ = {"LOT_STATE_DIR": str(tmp_path / "state")}
        with (
            cloud.collect("depot-north/summaries/#") as up,
            mosquitto.collect("orders/#") as down,
            RunningSite(site, mosquitto.url, environ=environ),
        ):
            status = "lot/uplink/routes/Uplink/status"
            deadline = time.monotonic() + 10
            while mosquitto.retained(status, 0.3) != b"connected":
                assert time.monotonic() < deadline, "the bridge never connected"
            # Live messages, while the bridge is subscribed on both brokers.
            mosquitto.publish("summaries/p-07/30s", b"kept", retain=True)
            mosquitto.publish("summaries/p-07/1s", b"passing")
            cloud.publish("depot-north/orders/p-07/mode", b"auto", retain=True)
            cloud.publish("depot-north/orders/p-07/stop", b"now")
            up.wait_for(2, timeout=10)
            down.wait_for(3, timeout=10)

            # Fresh subscribers: only what was published retained is retained.
            assert cloud.retained("depot-north/summaries/p-07/30s") == b"kept"
            assert cloud.retained("depot-north/summaries/p-07/1s", 0.5) is None
            # An empty retained message clears the topic on the other side too.
            mosquitto.publish("summaries/p-07/30s", b"", retain=True)
            up.wait_for(3, timeout=10)
            assert cloud.retained("depot-north/summaries/p-07/30s", 0.5) is None
    assert mosquitto.retained("orders/p-07/limit") == b"9"
    assert mosquitto.retained("orders/p-07/mode") == b"auto"
    assert mosquitto.retained("orders/p-07/stop", 0.5) is None
