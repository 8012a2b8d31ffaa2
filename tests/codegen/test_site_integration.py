"""Generated sites, run as operators run them, against a real Mosquitto.

Each test compiles LoT with ``lotc build --emit``, starts the generated package
in its own process (``python -m <package> run``), talks to it through the
broker and checks what comes out: the canonical normaliser's exact JSON,
timers, KEEP / GET TOPIC, CALL ACTION, a bad payload skipped, a broker that
dies and comes back, a clean shutdown.  One test installs the two wheels into
a fresh virtual environment and runs the console script, as on a device.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO
from support.site_process import SiteProcess

from lotc import cli

EXAMPLE = REPO / "examples" / "boiler-normaliser"


def _build(site: Path, out: Path) -> Path:
    tree = out / "tree"
    status = cli.main(
        ["build", str(site), "-o", str(out / "dist"), "--emit", str(tree)]
    )
    assert status == cli.EXIT_OK
    return tree


def _write_site(folder: Path, name: str, lot: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "site.toml").write_text(f'[site]\nname = "{name}"\n')
    (folder / "site.lot").write_text(textwrap.dedent(lot))
    return folder


@pytest.fixture
def running(mosquitto):
    """Start generated sites; stop them all at the end of the test."""
    started: list[SiteProcess] = []

    def start(tree: Path, package: str, site: str, *extra: str, env=None):
        process = SiteProcess(
            tree,
            package,
            mosquitto,
            log=tree.parent / f"{package}.log",
            env=env,
            args=extra,
        ).start()
        started.append(process)
        process.wait_online(site)
        return process

    yield start
    for process in started:
        process.stop()


def test_the_canonical_normaliser_publishes_the_exact_json(
    tmp_path, mosquitto, running
):
    tree = _build(EXAMPLE, tmp_path)
    running(tree, "boiler_normaliser", "boiler-normaliser")
    raw = "northwind/depot-n/basement/heating/boiler-2/metrics/flow_temp"

    with mosquitto.collect("northwind/+/+/heating/+/clean") as seen:
        mosquitto.publish(raw, b"21.7")
        mosquitto.publish(raw, b" 80 ")
        first, second = seen.wait_for(2)

    assert first.topic == "northwind/depot-n/basement/heating/boiler-2/clean"
    sample = json.loads(first.payload)
    assert list(sample) == ["boiler", "depot", "flow_temp_c", "sampled_at"]
    assert sample["boiler"] == "boiler-2" and sample["depot"] == "depot-n"
    assert sample["flow_temp_c"] == 21.7
    assert b'"flow_temp_c":21.7,' in first.payload
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", sample["sampled_at"])
    assert json.loads(second.payload)["flow_temp_c"] == 80


def test_call_action_and_keep_get_topic_in_the_example(tmp_path, mosquitto, running):
    tree = _build(EXAMPLE, tmp_path)
    running(tree, "boiler_normaliser", "boiler-normaliser")
    raw = "northwind/d/r/heating/b-9/metrics/flow_temp"

    with mosquitto.collect("alarms/#") as alarms:
        mosquitto.publish(raw, b"90.5")
        mosquitto.publish(raw, b"10")
        hot, cold = alarms.wait_for(2)
    assert (hot.topic, hot.payload) == ("alarms/b-9/flow", b"over by 5.5 C")
    assert (cold.topic, cold.payload) == ("alarms/b-9/flow", b"cold")


SERVICE_SITE = """\
    DEFINE ACTION Count
    ON TOPIC "count/in" DO
        SET "n" WITH (GET TOPIC "count/total" AS INT) + 1
        KEEP TOPIC "count/total" WITH {n}
        PUBLISH TOPIC "count/out" WITH {n}

    DEFINE ACTION Divide
    ON TOPIC "divide/+" DO
        SET "by" WITH PAYLOAD AS INT
        PUBLISH TOPIC "divide/result/" + TOPIC POSITION 2 WITH 100 / {by}

    DEFINE ACTION Pulse
    ON EVERY 200 MILLISECONDS DO
        SET "beats" WITH (GET TOPIC "pulse/beats" AS INT) + 1
        KEEP TOPIC "pulse/beats" WITH {beats}
        PUBLISH TOPIC "pulse/beat" WITH {beats}

    DEFINE ACTION Hello
    ON START DO
        PUBLISH TOPIC "hello" WITH "up"
"""


@pytest.fixture
def service(tmp_path, running):
    site = _write_site(tmp_path / "src", "service", SERVICE_SITE)
    tree = _build(site, tmp_path)

    def start(*extra: str):
        return running(tree, "service", "service", *extra)

    return start


def test_start_timers_and_the_topic_cache(mosquitto, service):
    with mosquitto.collect("hello", "pulse/beat", "count/out") as seen:
        service()
        mosquitto.publish("count/in", b"x")
        mosquitto.publish("count/in", b"x")
        messages = seen.wait_for(6, timeout=10)
    by_topic: dict[str, list[bytes]] = {}
    for message in messages:
        by_topic.setdefault(message.topic, []).append(message.payload)
    assert by_topic["hello"] == [b"up"]
    assert by_topic["count/out"][:2] == [b"1", b"2"]
    beats = by_topic["pulse/beat"]
    assert beats[:2] == [b"1", b"2"], beats


def test_a_bad_payload_is_skipped_and_the_next_one_processed(mosquitto, service):
    process = service()
    with mosquitto.collect("divide/result/#") as seen:
        mosquitto.publish("divide/a", b"0")
        mosquitto.publish("divide/b", b"4")
        [result] = seen.wait_for(1)
        time.sleep(0.3)
        assert len(seen.messages) == 1
    assert (result.topic, result.payload) == ("divide/result/b", b"25")
    assert process.running
    assert "ZeroDivisionError" in process.output()


def test_the_site_carries_on_after_the_broker_is_killed_and_restarted(
    mosquitto, service
):
    process = service()
    mosquitto.kill()
    time.sleep(1.0)
    mosquitto.start()
    process.wait_online("service", timeout=30)
    with mosquitto.collect("divide/result/#") as seen:
        mosquitto.publish("divide/c", b"5")
        [result] = seen.wait_for(1, timeout=10)
    assert result.payload == b"20"
    assert process.running


def test_sigterm_publishes_offline_and_exits_zero(mosquitto, service):
    process = service()
    assert process.stop() == 0, process.output()
    assert mosquitto.retained("lot/service/status") == b"offline"


def test_missing_env_and_secrets_exit_2_listing_all(tmp_path, mosquitto):
    site = _write_site(
        tmp_path / "src",
        "needy",
        """\
        DEFINE ACTION Needy
        ON TOPIC "a" DO
            PUBLISH TOPIC "b" WITH GET ENV "PLANT_ID" + GET SECRET "API_TOKEN"
        """,
    )
    tree = _build(site, tmp_path)
    process = SiteProcess(
        tree,
        "needy",
        mosquitto,
        log=tmp_path / "needy.log",
        env={"LOT_SECRETS_DIR": str(tmp_path / "none")},
    ).start()
    assert process.process is not None and process.process.wait(10) == 2
    output = process.output()
    assert "PLANT_ID" in output and "API_TOKEN" in output


def test_the_wheels_install_in_a_fresh_venv_and_run(tmp_path, mosquitto):
    """As on a device: pip install dist/*.whl, then `<site> run`."""
    out = tmp_path / "out"
    assert cli.main(["build", str(EXAMPLE), "-o", str(out)]) == cli.EXIT_OK
    wheels = sorted(str(p) for p in out.glob("*.whl"))
    assert len(wheels) == 2
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", *wheels],
        check=True,
        capture_output=True,
    )
    log = tmp_path / "site.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [str(venv / "bin" / "boiler-normaliser"), "run", "--broker", mosquitto.url],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while mosquitto.retained("lot/boiler-normaliser/status", 0.5) != b"online":
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
        with mosquitto.collect("northwind/+/+/heating/+/clean") as seen:
            mosquitto.publish("northwind/d/r/heating/b/metrics/flow_temp", b"55.25")
            [sample] = seen.wait_for(1)
        assert json.loads(sample.payload)["flow_temp_c"] == 55.25
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0, log.read_text()


def test_call_python_runs_the_site_script(tmp_path, running, mosquitto):
    site = _write_site(
        tmp_path / "src",
        "scripted",
        """\
        DEFINE ACTION Clamp
        ON TOPIC "raw/+" DO
            CALL PYTHON "Maths.clamp" WITH (PAYLOAD, 0, 100) RETURN AS {clamped}
            CALL PYTHON "Maths.describe" WITH (TOPIC POSITION 2) RETURN AS {info}
            PUBLISH TOPIC "clamped/+" WITH {clamped}
            PUBLISH TOPIC "info/+" WITH GET JSON "sensor" IN {info}
        """,
    )
    (site / "maths.py").write_text(
        "# Script Name: Maths\n\n\n"
        "def clamp(value, low, high):\n"
        "    return max(low, min(high, float(value)))\n\n\n"
        "def describe(name):\n"
        '    return {"sensor": name.upper()}\n'
    )
    tree = _build(site, tmp_path)
    running(tree, "scripted", "scripted")
    with mosquitto.collect("clamped/#", "info/#") as seen:
        mosquitto.publish("raw/t1", b"140")
        messages = seen.wait_for(2)
    payloads = {m.topic: m.payload for m in messages}
    # A float result takes the LoT text form of a DOUBLE: 100, not 100.0.
    assert payloads == {"clamped/t1": b"100", "info/t1": b"T1"}
