"""The canonical edge-to-cloud site (CANONICAL.md, deployment 2) on two real
Mosquitto brokers: summaries, alarms and orders cross the bridge; a cloud
outage of 10 s loses nothing, also when the site is SIGKILLed during it; a
TLS leg with a CA made by the test.

The site is a test copy of ``examples/depot-uplink/depot.lot`` with three
changes, each asserted to apply once: the summary timer runs every second
(not every 30 s, to keep the test short), BROKER_PORT comes from
``HQ_BROKER_PORT`` (the cloud listens on a free port, not 8883), and
USE_TLS is "false" except in the TLS test, which keeps "true".  One action
is added: an alarm when a pump's pressure passes 8 bar.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from conftest import REPO
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from support.mosquitto import Mosquitto, free_port
from support.site_process import SiteProcess

from lotc import cli

CANONICAL = REPO / "examples" / "depot-uplink" / "depot.lot"
STATUS = "lot/depot-uplink/routes/DepotUplink/status"
COUNTERS = "lot/depot-uplink/routes/DepotUplink/counters"
PASSWORD = "hq-s3cret-pw"
# A site that is down, or a cloud subscriber, may have thousands of messages
# queued for it: more than Mosquitto's default of 1000.
QUEUE = "max_queued_messages 100000\n"

ALARM_ACTION = """
DEFINE ACTION RaisePressureAlarm
ON TOPIC "pumps/+/pressure" DO
    SET "bar" WITH PAYLOAD AS DOUBLE
    IF {bar} > 8 THEN
        SET "pump" WITH TOPIC POSITION 2
        PUBLISH TOPIC "alarms/" + {pump} + "/pressure" WITH "over 8 bar: " + {bar}
"""


def _site_text(tls: bool, extra_config: str = "") -> str:
    text = CANONICAL.read_text()
    changes = [
        ("ON EVERY 30 SECONDS", "ON EVERY 1 SECONDS"),
        ("WITH BROKER_PORT '8883'", 'WITH BROKER_PORT GET ENV "HQ_BROKER_PORT"'),
    ]
    if not tls:
        changes.append(('WITH USE_TLS "true"', 'WITH USE_TLS "false"'))
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    if extra_config:
        text = text.replace(
            'WITH USE_TLS "true"\n', f'WITH USE_TLS "true"\n{extra_config}'
        )
    return text + ALARM_ACTION


def _build(tmp_path: Path, text: str) -> Path:
    source = tmp_path / "depot-uplink"
    source.mkdir(parents=True)
    (source / "depot.lot").write_text(text)
    tree = tmp_path / "tree"
    status = cli.main(
        ["build", str(source), "-o", str(tmp_path / "dist"), "--emit", str(tree)]
    )
    assert status == cli.EXIT_OK
    return tree


class Site(SiteProcess):
    """The generated depot site as a process of its own."""

    def __init__(self, tree: Path, edge: Mosquitto, env: dict[str, str]) -> None:
        super().__init__(
            tree, "depot_uplink", edge, log=tree.parent / "site.log", env=env
        )
        self.edge = edge

    def wait_status(self, done, timeout: float = 20.0) -> str:
        """Wait until the bridge's retained status satisfies done(text)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            assert self.running, self.output()
            found = self.edge.retained(STATUS, timeout=0.3)
            text = found.decode() if found else ""
            if done(text):
                return text
            time.sleep(0.1)
        pytest.fail(f"bridge status stayed {text!r}:\n{self.output()[-3000:]}")

    def counters(self) -> dict[str, int]:
        found = self.edge.retained(COUNTERS)
        return json.loads(found) if found else {}

    def settled_counters(self, timeout: float = 10.0) -> dict[str, int]:
        """The counters once nothing is spooled: they are published once a
        second, so the last confirmations can trail the messages' arrival."""
        deadline = time.monotonic() + timeout
        counters = self.counters()
        while counters.get("spooled") != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            counters = self.counters()
        return counters


class Listener:
    """A cloud subscriber with a persistent session: it reconnects by itself
    and gets what was queued for it while the cloud was down."""

    def __init__(self, broker: Mosquitto, topic_filter: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"cloud-listener-{os.getpid()}",
            protocol=paho.MQTTv5,
        )
        self.client.reconnect_delay_set(0.1, 0.5)
        subscribed = threading.Event()

        def on_connect(client, userdata, flags, reason, properties):
            client.subscribe(topic_filter, qos=1)

        def on_subscribe(*args):
            self.subscriptions += 1
            subscribed.set()

        self.subscriptions = 0  # SUBACKs so far: one per (re)connect
        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = self._add
        connect = Properties(PacketTypes.CONNECT)
        connect.SessionExpiryInterval = 600
        self.client.connect(
            broker.host, broker.port, clean_start=False, properties=connect
        )
        self.client.loop_start()
        assert subscribed.wait(5), "the cloud listener did not subscribe"

    def _add(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def wait_for(self, done, timeout: float) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = list(self.messages)
            if done(found):
                return found
            time.sleep(0.05)
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def brokers(tmp_path):
    edge = Mosquitto(tmp_path / "edge", extra_config=QUEUE)
    cloud = Mosquitto(tmp_path / "cloud", extra_config=QUEUE)
    edge.start()
    cloud.start()
    yield edge, cloud
    edge.kill()
    cloud.kill()


def _environment(tmp_path: Path, cloud_port: int) -> dict[str, str]:
    return {
        "HQ_BROKER_HOST": "127.0.0.1",
        "HQ_BROKER_PORT": str(cloud_port),
        "DEPOT_ID": "depot-north-1",
        "HQ_BROKER_USER": "depot-north",
        "LOT_SECRET_HQ_BROKER_PASSWORD": PASSWORD,
        "LOT_STATE_DIR": str(tmp_path / "state"),
    }


@pytest.fixture
def depot(tmp_path, brokers):
    edge, cloud = brokers
    tree = _build(tmp_path, _site_text(tls=False))
    site = Site(tree, edge, _environment(tmp_path, cloud.port))
    site.start()
    site.wait_status(lambda s: s == "connected")
    yield site
    site.stop()
    assert PASSWORD not in site.output()


def test_summaries_and_alarms_go_up_and_orders_come_down(brokers, depot):
    edge, cloud = brokers
    with cloud.collect("depot-north/#") as up, edge.collect("orders/#") as down:
        edge.publish("pumps/p-07/flow", b"12.5")
        edge.publish("pumps/p-07/pressure", b"9.25")
        edge.publish("pumps/p-07/pressure", b"3")
        up.wait_until(
            lambda ms: (
                {m.topic for m in ms}
                >= {
                    "depot-north/summaries/p-07/30s",
                    "depot-north/alarms/p-07/pressure",
                }
            ),
            timeout=10,
        )
        cloud.publish("depot-north/orders/p-07/stop", b"now")
        [order] = down.wait_for(1, timeout=10)

    assert (order.topic, order.payload) == ("orders/p-07/stop", b"now")
    alarms = up.payloads("depot-north/alarms/p-07/pressure")
    assert alarms == [b"over 8 bar: 9.25"]
    summary = json.loads(up.payloads("depot-north/summaries/p-07/30s")[-1])
    assert summary["pump"] == "p-07" and summary["mean_flow"] == 12.5
    # Nothing the bridge wrote was forwarded again: the order is on the cloud
    # once (the test's own publish), and the edge saw no alarm come down.
    time.sleep(0.5)
    assert up.payloads("depot-north/orders/p-07/stop") == [b"now"]
    assert [m.topic for m in down.messages] == ["orders/p-07/stop"]

    # Retained flags cross as published: once the alarm is there, a fresh
    # cloud subscriber gets it as retained, and nothing published plainly.
    with cloud.collect("depot-north/alarms/p-07/latched") as latched:
        edge.publish("alarms/p-07/latched", b"over 8 bar", retain=True)
        latched.wait_for(1, timeout=10)
    assert cloud.retained("depot-north/alarms/p-07/latched") == b"over 8 bar"
    assert cloud.retained("depot-north/alarms/p-07/pressure", 0.5) is None


def _numbered(messages: list[tuple[str, bytes]]) -> list[int]:
    return [int(p) for t, p in messages if t == "depot-north/alarms/p-07/seq"]


def _check_all_in_order(seen: list[int], count: int) -> int:
    """All of 1..count arrived, first arrivals in order; the duplicates."""
    first = list(dict.fromkeys(seen))
    assert first == list(range(1, count + 1)), (first[:20], len(first))
    return len(seen) - len(first)


def _spooling(at_least: int):
    """A status check: the bridge holds at least this many messages (the
    summaries of each second are spooled too)."""

    def check(status: str) -> bool:
        words = status.split()
        return words[:1] == ["spooling"] and int(words[1]) >= at_least

    return check


def _outage(brokers, depot, kill_site: bool, record) -> None:
    edge, cloud = brokers
    listener = Listener(cloud, "depot-north/alarms/p-07/seq")
    try:
        cloud.stop()
        down_at = time.monotonic()
        depot.wait_status(lambda s: s.startswith("spooling"))
        publisher = edge.client()
        for n in range(1, 1001):
            publisher.publish("alarms/p-07/seq", str(n), qos=1)
        if kill_site:
            depot.wait_status(_spooling(1000))
            depot.kill()
        for n in range(1001, 2001):
            info = publisher.publish("alarms/p-07/seq", str(n), qos=1)
        info.wait_for_publish(10)
        publisher.disconnect()
        publisher.loop_stop()
        if kill_site:
            depot.start()
        depot.wait_status(_spooling(2000))
        time.sleep(max(0.0, 10 - (time.monotonic() - down_at)))
        cloud.start()
        seen = _numbered(
            listener.wait_for(lambda ms: len(set(_numbered(ms))) >= 2000, 45)
        )
        duplicates = _check_all_in_order(seen, 2000)
        depot.wait_status(lambda s: s == "connected")
        counters = depot.settled_counters()
        print(  # shown with -s; also recorded as test properties (--junitxml)
            f"\n{'SIGKILL, ' if kill_site else ''}cloud down "
            f"{time.monotonic() - down_at:.1f} s: 2000 alarms arrived in order, "
            f"{duplicates} duplicates; bridge counters {counters}"
        )
        record("duplicates", duplicates)
        record("bridge_counters", counters)
        assert counters["forwarded"] >= 2000
        assert counters["dropped"] == 0
        assert duplicates <= counters["resent"] + 100
    finally:
        listener.close()


def test_a_cloud_outage_of_10_s_loses_nothing_and_keeps_order(
    brokers, depot, record_property
):
    _outage(brokers, depot, kill_site=False, record=record_property)


def test_a_site_killed_during_the_outage_resends_its_spool(
    brokers, depot, record_property
):
    _outage(brokers, depot, kill_site=True, record=record_property)


def test_the_edge_keeps_a_message_until_the_cloud_has_it(brokers, depot, tmp_path):
    """The bridge acknowledges a message on the edge only once the cloud
    answered it: with the cloud hung, the message stays the edge broker's,
    so neither a killed site nor a lost spool can lose it."""
    edge, cloud = brokers
    listener = Listener(cloud, "depot-north/alarms/#")
    try:
        cloud.pause()
        edge.publish("alarms/p-07/seq", b"kept by the edge", qos=1)
        time.sleep(1.0)  # forwarded into the hung cloud's socket, unanswered
        depot.kill()
        shutil.rmtree(tmp_path / "state")  # nothing left on the site's disk
        cloud.kill()  # what it had not read yet is gone with it
        before = listener.subscriptions
        cloud.start()
        assert listener.wait_for(lambda _: listener.subscriptions > before, 10) == []
        depot.start()
        seen = listener.wait_for(lambda ms: ms, 20)
        assert seen == [("depot-north/alarms/p-07/seq", b"kept by the edge")]
    finally:
        listener.close()


# --------------------------------------------------------------------- TLS


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_pki(folder: Path) -> Path:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate
    whose key is encrypted with the password "certpass"."""
    folder.mkdir()
    _openssl(
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
        *("-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=lotc test CA"),
        cwd=folder,
    )
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        _openssl(
            *("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key"),
            *("-out", f"{name}.csr", "-subj", f"/CN={name}"),
            cwd=folder,
        )
        (folder / f"{name}.ext").write_text(extension + "\n")
        _openssl(
            *("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem"),
            *("-CAkey", "ca.key", "-CAcreateserial", "-days", "2"),
            *("-out", f"{name}.pem", "-extfile", f"{name}.ext"),
            cwd=folder,
        )
    _openssl(
        *("pkey", "-in", "client.key", "-aes256", "-passout", "pass:certpass"),
        *("-out", "client.enc.key"),
        cwd=folder,
    )
    bundle = (folder / "client.pem").read_text() + (
        folder / "client.enc.key"
    ).read_text()
    (folder / "client-bundle.pem").write_text(bundle)
    return folder


def _tls_listener(pki: Path, port: int, require_certificate: bool) -> str:
    return (
        f"listener {port} 127.0.0.1\n"
        f"cafile {pki / 'ca.pem'}\n"
        f"certfile {pki / 'server.pem'}\n"
        f"keyfile {pki / 'server.key'}\n"
        f"require_certificate {'true' if require_certificate else 'false'}\n"
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_the_uplink_over_tls_with_a_test_ca_and_a_client_certificate(tmp_path):
    pki = _make_pki(tmp_path / "pki")
    server_only, mutual = free_port(), free_port()
    edge = Mosquitto(tmp_path / "edge")
    cloud = Mosquitto(
        tmp_path / "cloud",
        extra_config=_tls_listener(pki, server_only, False)
        + _tls_listener(pki, mutual, True),
    )
    with edge, cloud:
        # As written in CANONICAL.md: USE_TLS "true" and nothing else, so the
        # system's trust store decides; the test CA is added to it.
        plain = Site(
            _build(tmp_path / "canonical", _site_text(tls=True)),
            edge,
            {
                **_environment(tmp_path / "canonical", server_only),
                "SSL_CERT_FILE": str(pki / "ca.pem"),
            },
        )
        # With the bridge's own TLS settings: a CA file, a client
        # certificate whose key needs CLIENT_CERT_PASS.
        own = Site(
            _build(
                tmp_path / "mutual",
                _site_text(
                    tls=True,
                    extra_config=(
                        '        WITH SERVER_CA_CERT_PATH GET ENV "HQ_CA"\n'
                        '        WITH CLIENT_CERT_PATH GET ENV "HQ_CERT"\n'
                        '        WITH CLIENT_CERT_PASS GET SECRET "HQ_CERT_PASS"\n'
                    ),
                ),
            ),
            edge,
            {
                **_environment(tmp_path / "mutual", mutual),
                "DEPOT_ID": "depot-north-2",
                "LOT_CLIENT_ID": "lot-depot-uplink-mutual",
                "HQ_CA": str(pki / "ca.pem"),
                "HQ_CERT": str(pki / "client-bundle.pem"),
                "LOT_SECRET_HQ_CERT_PASS": "certpass",
            },
        )
        for site in (plain, own):
            edge.publish(STATUS, b"", retain=True)  # the sites share the topic
            with cloud.collect("depot-north/alarms/#") as up:
                site.start()
                site.wait_status(lambda s: s == "connected")
                edge.publish("alarms/p-07/tls", site.environment["DEPOT_ID"])
                [alarm] = up.wait_for(1, timeout=10)
            site.stop()
            assert alarm.payload == site.environment["DEPOT_ID"].encode()
            assert PASSWORD not in site.output()
            assert "certpass" not in site.output()
