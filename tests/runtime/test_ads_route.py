"""The ADS route against a real ADS server (pyads's test server, speaking
ADS over TCP like a TwinCAT PLC) and a real Mosquitto: variables read by
symbol in one sum request, strings, scaling, commands written and read
back, a symbol the PLC lacks, and an outage ridden out.

ADS always uses port 48898, so these tests hold one simulator at a time."""

from __future__ import annotations

import logging
import time

import pyads
import pytest
from lot_runtime import Site
from lot_runtime.routes.ads import AdsRoute, AdsTag
from support.ads import AdsSimulator

from .sites import RunningSite

VARIABLES = (
    ("MAIN.Velocity", "LREAL"),
    ("MAIN.Count", "DINT"),
    ("MAIN.Temp", "INT"),
    ("MAIN.Running", "BOOL"),
    ("MAIN.Label", "STRING"),
    ("MAIN.Speed", "REAL"),
)


@pytest.fixture
def plc():
    with AdsSimulator(*VARIABLES) as simulator:
        yield simulator


def _route(plc, *tags: AdsTag) -> AdsRoute:
    return AdsRoute(
        name="TwinCat", net_id=plc.net_id, host=plc.host, tags=tags, timeout=2.0
    )


def _latest(seen, topic: str, wanted: bytes, timeout=10.0) -> None:
    found = seen.wait_until(
        lambda ms: any(m.topic == topic and m.payload == wanted for m in ms), timeout
    )
    got = [m.payload for m in found if m.topic == topic]
    assert any(p == wanted for p in got), f"{topic}: wanted {wanted!r}, got {got}"


def test_variables_are_read_by_symbol_in_one_sum_request(mosquitto, plc, monkeypatch):
    requests: list[object] = []
    for method in ("read_list_by_name", "read_by_name"):
        original = getattr(pyads.Connection, method)

        def counted(self, names, *args, _original=original, _method=method, **kw):
            requests.append((_method, names))
            return _original(self, names, *args, **kw)

        monkeypatch.setattr(pyads.Connection, method, counted)
    plc.set("MAIN.Velocity", 1450.5)
    plc.set("MAIN.Count", -70000)
    plc.set("MAIN.Temp", 217)
    plc.set("MAIN.Running", True)
    plc.set("MAIN.Label", "cereal")
    plc.set("MAIN.Speed", 21.7)
    tags = (
        AdsTag(name="v", address="MAIN.Velocity", topic="tc/v", data_type="LREAL"),
        AdsTag(name="c", address="MAIN.Count", topic="tc/c"),
        AdsTag(
            name="t", address="MAIN.Temp", topic="tc/t", data_type="INT", scaling=0.1
        ),
        AdsTag(name="r", address="MAIN.Running", topic="tc/r", data_type="BOOL"),
        AdsTag(name="l", address="MAIN.Label", topic="tc/l", data_type="STRING"),
        AdsTag(name="s", address="MAIN.Speed", topic="tc/s", data_type="REAL"),
    )
    with mosquitto.collect("tc/#") as seen:
        site = Site(name="ads", routes=(_route(plc, *tags),))
        with RunningSite(site, mosquitto.url):
            _latest(seen, "tc/v", b"1450.5")
            _latest(seen, "tc/c", b"-70000")
            _latest(seen, "tc/t", b"21.7")
            _latest(seen, "tc/r", b"true")
            _latest(seen, "tc/l", b"cereal")
            _latest(seen, "tc/s", b"21.7")
    route_requests = [r for r in requests if r[0] == "read_list_by_name"]
    assert route_requests
    assert all(
        names
        == ["MAIN.Velocity", "MAIN.Count", "MAIN.Temp", "MAIN.Running", "MAIN.Speed"]
        for _, names in route_requests
    )
    # Only the STRING is read on its own.
    assert {n for m, n in requests if m == "read_by_name"} == {"MAIN.Label"}


def test_commands_are_written_and_read_back(mosquitto, plc):
    tags = (
        AdsTag(
            name="c",
            address="MAIN.Count",
            topic="w/c",
            writable=True,
            command_topic="w/c/set",
            every=5,
        ),
        AdsTag(
            name="t",
            address="MAIN.Temp",
            topic="w/t",
            data_type="INT",
            scaling=0.1,
            writable=True,
            command_topic="w/t/set",
            every=5,
        ),
        AdsTag(
            name="r",
            address="MAIN.Running",
            topic="w/r",
            data_type="BOOL",
            writable=True,
            command_topic="w/r/set",
            every=5,
        ),
    )
    status = "lot/writes/routes/TwinCat/status"
    with mosquitto.collect("w/#", status) as seen:
        site = Site(name="writes", routes=(_route(plc, *tags),))
        with RunningSite(site, mosquitto.url):
            _latest(seen, status, b"connected")
            mosquitto.publish("w/t/set", b"40000")  # beyond INT once unscaled
            mosquitto.publish("w/c/set", b"123456")
            mosquitto.publish("w/t/set", b"21.7")
            mosquitto.publish("w/r/set", b"on")
            _latest(seen, "w/c", b"123456")
            _latest(seen, "w/t", b"21.7")
            _latest(seen, "w/r", b"true")
    assert plc.get("MAIN.Count") == 123456
    assert plc.get("MAIN.Temp") == 217
    assert plc.get("MAIN.Running") is True


def test_a_symbol_the_plc_lacks_is_reported_and_the_rest_go_on(mosquitto, plc, caplog):
    plc.set("MAIN.Count", 7)
    tags = (
        AdsTag(name="count", address="MAIN.Count", topic="x/count", every=0.2),
        AdsTag(name="temp", address="MAIN.Temp", topic="x/temp", every=0.2),
        AdsTag(name="ghost", address="MAIN.Ghost", topic="x/ghost", every=0.2),
    )
    with caplog.at_level(logging.WARNING, logger="lot"):
        with mosquitto.collect("x/#") as seen:
            site = Site(name="missing", routes=(_route(plc, *tags),))
            with RunningSite(site, mosquitto.url):
                _latest(seen, "x/count", b"7")
                plc.set("MAIN.Count", 8)
                _latest(seen, "x/count", b"8")
                time.sleep(0.5)
    assert not seen.payloads("x/ghost")
    messages = [r.getMessage() for r in caplog.records]
    assert sum("refused a sum read" in m for m in messages) == 1, messages
    ghost = [m for m in messages if "tag ghost" in m]
    assert len(ghost) == 1 and "refuses to read it" in ghost[0], ghost


def test_an_outage_is_reported_and_ridden_out(mosquitto, plc):
    plc.set("MAIN.Velocity", 3.5)
    tag = AdsTag(
        name="v", address="MAIN.Velocity", topic="o/v", data_type="LREAL", every=0.2
    )
    status = "lot/outage/routes/TwinCat/status"
    with mosquitto.collect("o/v", status) as seen:
        site = Site(name="outage", routes=(_route(plc, tag),))
        with RunningSite(site, mosquitto.url) as running:
            _latest(seen, "o/v", b"3.5")
            plc.stop()
            seen.wait_until(
                lambda ms: any(m.payload.startswith(b"disconnected") for m in ms), 15
            )
            time.sleep(1)
            plc.start()
            plc.set("MAIN.Velocity", 4.25)
            _latest(seen, "o/v", b"4.25", timeout=30)
            assert running.runner.connection.online
    statuses = [p.decode() for p in seen.payloads(status)]
    assert any(s.startswith("disconnected") for s in statuses)
    assert statuses[-1] == "connected"
