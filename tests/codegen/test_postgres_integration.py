"""The canonical historian, built by lotc and run as a process, on a real
PostgreSQL and a real Mosquitto that the tests start themselves.

``examples/boiler-historian`` is deployment 1 of CANONICAL.md without its
MODBUS gateway: the normalising action, the model and the POSTGRESQL route
with its QUERY exactly as written there.  The tests publish raw readings
(or clean samples) and read the table back: exact rows, a boiler id that is
an injection attempt stored verbatim, a 10 s outage during 5,000 messages,
a SIGKILL of the site while the server is down, and the dead-letter topic.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO
from support.site_process import SiteProcess

from lotc import cli

EXAMPLE = REPO / "examples" / "boiler-historian"
PACKAGE, SITE = "boiler_historian", "boiler-historian"
RAW = "northwind/{depot}/basement/heating/{boiler}/metrics/flow_temp"
SCHEMA = """
    CREATE TABLE boiler_samples (
        id bigserial PRIMARY KEY,
        sampled_at timestamptz NOT NULL,
        boiler text NOT NULL,
        depot text NOT NULL,
        flow_temp_c double precision
    );
"""


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("historian")
    status = cli.main(
        ["build", str(EXAMPLE), "-o", str(out / "dist"), "--emit", str(out / "tree")]
    )
    assert status == cli.EXIT_OK
    return out / "tree"


@pytest.fixture
def database(postgres):
    postgres.sql("CREATE DATABASE depot_history")
    postgres.sql(SCHEMA, database="depot_history")
    return postgres


class Historian(SiteProcess):
    """The generated site in a child process; SIGKILL-able, restartable."""

    def __init__(self, tree: Path, broker, database, state: Path) -> None:
        super().__init__(
            tree,
            PACKAGE,
            broker,
            log=state.parent / "historian.log",
            env={
                "LOT_LOG_LEVEL": "INFO",
                "LOT_STATE_DIR": str(state),
                "ARCHIVE_HOST": f"{database.host}:{database.port}",
                "ARCHIVE_USER": database.user,
                "LOT_SECRET_ARCHIVE_PASSWORD": "not-needed-with-trust",
            },
        )

    def start(self) -> Historian:
        super().start()
        self.wait_online(SITE)
        return self


@pytest.fixture
def historian(tree, mosquitto, database, tmp_path):
    site = Historian(tree, mosquitto, database, tmp_path / "state")
    yield site
    site.stop()


def _rows(database, columns="boiler, depot, flow_temp_c") -> list[list[str]]:
    return database.sql(
        f"SELECT {columns} FROM boiler_samples ORDER BY id", database="depot_history"
    )


def _wait_rows(database, count: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = int(
            database.sql("SELECT count(*) FROM boiler_samples", "depot_history")[0][0]
        )
        if found >= count:
            return found
        time.sleep(0.1)
    return found


def _publish_many(broker, topics_payloads, seconds: float = 0.0) -> None:
    """Publish in order on one QoS 1 session, spread over ``seconds``."""
    client = broker.client()
    try:
        start = time.monotonic()
        total = len(topics_payloads)
        last = None
        for index, (topic, payload) in enumerate(topics_payloads):
            if seconds:
                delay = start + seconds * index / total - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            last = client.publish(topic, payload, qos=1)
        if last is not None:
            last.wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()


def test_the_canonical_historian_stores_exactly_the_rows_published(
    mosquitto, database, historian
):
    historian.start()
    readings = [
        ("depot-n", "boiler-1", "21.7"),
        ("depot-n", "boiler-2", " 80 "),
        ("depot-s", "boiler-1", "-3.25"),
        ("depot-s", "b\u00f6iler-\u00e9", "1e3"),
    ]
    before = time.time()
    for depot, boiler, value in readings:
        mosquitto.publish(RAW.format(depot=depot, boiler=boiler), value)
    assert _wait_rows(database, len(readings)) == len(readings)
    time.sleep(0.3)  # nothing more arrives

    assert _rows(database) == [
        ["boiler-1", "depot-n", "21.7"],
        ["boiler-2", "depot-n", "80"],
        ["boiler-1", "depot-s", "-3.25"],
        ["b\u00f6iler-\u00e9", "depot-s", "1000"],
    ]
    stamps = _rows(database, "extract(epoch from sampled_at)")
    assert all(before - 1 <= float(s) <= time.time() + 1 for [s] in stamps)
    assert mosquitto.retained(f"lot/{SITE}/routes/BoilerArchive/status") == (
        b"connected"
    )


def test_an_injection_attempt_is_stored_verbatim_and_the_table_survives(
    mosquitto, database, historian
):
    historian.start()
    evil = "o'brien'); DROP TABLE boiler_samples; --"
    mosquitto.publish(RAW.format(depot="d'1", boiler=evil), "55.5")
    mosquitto.publish(RAW.format(depot="d2", boiler="after"), "1")
    assert _wait_rows(database, 2) == 2
    assert _rows(database) == [[evil, "d'1", "55.5"], ["after", "d2", "1"]]


def test_a_ten_second_outage_during_5000_messages_loses_nothing_and_keeps_order(
    mosquitto, database, historian
):
    historian.start()
    mosquitto.publish(RAW.format(depot="d", boiler="warmup"), "-1")
    assert _wait_rows(database, 1) == 1

    status = f"lot/{SITE}/routes/BoilerArchive/status"
    with mosquitto.collect(status) as states:
        database.stop()
        outage = time.monotonic()
        messages = [(RAW.format(depot="d", boiler="b"), str(i)) for i in range(5000)]
        publisher = threading.Thread(
            target=_publish_many, args=(mosquitto, messages, 9.0)
        )
        publisher.start()
        publisher.join(30)
        time.sleep(max(0.0, 10.0 - (time.monotonic() - outage)))
        database.start()
        assert _wait_rows(database, 5001, timeout=30) == 5001
        seen = states.wait_until(lambda ms: ms[-1].payload == b"connected", 10)

    values = [float(v) for [v] in _rows(database, "flow_temp_c")]
    assert values == [-1.0, *map(float, range(5000))]
    said = [m.payload.decode() for m in seen]
    assert any(s.startswith("buffering ") for s in said), said
    assert said[-1] == "connected"
    log = historian.output()
    assert log.count("database unreachable") == 1, log
    assert "not-needed-with-trust" not in log


def test_a_site_killed_while_the_database_is_down_delivers_its_spool_on_restart(
    mosquitto, database, historian
):
    historian.start()
    mosquitto.publish(RAW.format(depot="d", boiler="warmup"), "-1")
    assert _wait_rows(database, 1) == 1

    database.stop()
    status = f"lot/{SITE}/routes/BoilerArchive/status"
    with mosquitto.collect(status) as states:
        _publish_many(
            mosquitto, [(RAW.format(depot="d", boiler="b"), str(i)) for i in range(500)]
        )
        states.wait_until(lambda ms: ms and ms[-1].payload == b"buffering 500", 10)
    assert mosquitto.retained(status) == b"buffering 500"
    historian.kill()

    historian.start()
    database.start()
    assert _wait_rows(database, 501) >= 501
    values = [float(v) for [v] in _rows(database, "flow_temp_c")]
    # At least once: every message is there, in order of first arrival.
    assert sorted(set(values)) == [-1.0, *map(float, range(500))]
    firsts = list(dict.fromkeys(values))
    assert firsts == [-1.0, *map(float, range(500))]


def test_an_unconvertible_value_goes_to_the_dead_letter_topic_and_the_route_goes_on(
    mosquitto, database, historian
):
    historian.start()
    clean = "northwind/d/r/heating/b/clean"
    good = {"boiler": "b", "depot": "d", "sampled_at": "2026-04-02 07:45:12"}
    with mosquitto.collect(f"lot/{SITE}/deadletter/#") as letters:
        mosquitto.publish(clean, json.dumps({**good, "flow_temp_c": "warm"}))
        mosquitto.publish(clean, json.dumps({**good, "sampled_at": "yesterday"}))
        mosquitto.publish(clean, json.dumps({**good, "flow_temp_c": 7}))
        first, second = letters.wait_for(2)
    assert _wait_rows(database, 1) == 1
    assert _rows(database) == [["b", "d", "7"]]

    assert first.topic == f"lot/{SITE}/deadletter/BoilerArchive"
    letter = json.loads(first.payload)
    assert letter["event"] == "KeepBoilerSample" and letter["topic"] == clean
    assert json.loads(letter["payload"])["flow_temp_c"] == "warm"
    assert letter["reason"].startswith("$4: not a valid float8")
    assert json.loads(second.payload)["reason"].startswith(
        "$1: not a valid timestamptz"
    )
