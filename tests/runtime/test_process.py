"""A site as a process: its command line, environment, signals and the will."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from lot_runtime import Action, OnTopic, Site, main
from lot_runtime.config import ConfigError, load_settings, parse_broker_url

TINY_SITE = textwrap.dedent(
    """
    from lot_runtime import Action, OnTopic, Site, main

    def echo(run):
        run.publish("echo/" + run.level(2), run.payload)

    SITE = Site(
        name="tiny",
        actions=(Action(name="Echo", trigger=OnTopic("in/+"), execute=echo),),
        env=("TINY_HOST",),
        secrets=("TINY_TOKEN",),
    )

    if __name__ == "__main__":
        raise SystemExit(main(SITE))
    """
)

NEEDY = Site(
    name="needy",
    actions=(Action(name="A", trigger=OnTopic("a"), execute=lambda run: None),),
    env=("ARCHIVE_HOST", "ARCHIVE_USER", "PRESENT"),
    secrets=("ARCHIVE_PASSWORD", "FROM_FILE", "FROM_VAR"),
)


def test_missing_env_and_secrets_exit_2_with_one_message(tmp_path, monkeypatch, capsys):
    (tmp_path / "FROM_FILE").write_text("s3cret\n")
    for name in ("ARCHIVE_HOST", "ARCHIVE_USER", "LOT_SECRET_ARCHIVE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PRESENT", "yes")
    monkeypatch.setenv("LOT_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("LOT_SECRET_FROM_VAR", "v")
    assert main(NEEDY, ["run"]) == 2
    err = capsys.readouterr().err
    assert "ARCHIVE_HOST, ARCHIVE_USER" in err and "ARCHIVE_PASSWORD" in err
    for present in ("PRESENT", "FROM_FILE", "FROM_VAR", "s3cret"):
        assert present not in err


def test_settings_come_from_the_environment(tmp_path):
    (tmp_path / "FROM_FILE").write_text("s3cret\n")
    environ = {
        "ARCHIVE_HOST": "db",
        "ARCHIVE_USER": "u",
        "PRESENT": "",
        "ARCHIVE_PASSWORD": "not-a-secret-source",
        "LOT_SECRET_ARCHIVE_PASSWORD": "pw",
        "LOT_SECRET_FROM_VAR": "v",
        "LOT_SECRETS_DIR": str(tmp_path),
        "LOT_BROKER_URL": "mqtts://edge%40x:p%3Ass@broker.local",
        "LOT_MQTT_QOS": "0",
        "LOT_CLEAN_START": "true",
        "LOT_STATE_DIR": str(tmp_path),
        "LOT_LOG_LEVEL": "debug",
    }
    settings = load_settings(NEEDY, environ=environ, only=("A",))
    assert settings.secrets == {
        "ARCHIVE_PASSWORD": "pw",
        "FROM_FILE": "s3cret",
        "FROM_VAR": "v",
    }
    c = settings.connection
    assert (c.broker.host, c.broker.port, c.broker.tls) == ("broker.local", 8883, True)
    assert (c.broker.username, c.broker.password) == ("edge@x", "p:ss")
    assert str(c.broker) == "mqtts://edge@x@broker.local:8883"  # never the password
    assert (c.qos, c.clean_start, c.client_id) == (0, True, "lot-needy-A")
    assert c.status_topic == "lot/needy/status"

    defaults = load_settings(Site(name="s"), environ={})
    assert str(defaults.connection.broker) == "mqtt://127.0.0.1:1883"
    assert (defaults.connection.qos, defaults.connection.clean_start) == (1, False)
    assert defaults.connection.client_id == "lot-s"


def test_bad_settings_are_all_reported():
    with pytest.raises(ConfigError) as caught:
        load_settings(
            Site(name="s"), environ={"LOT_BROKER_URL": "http://x", "LOT_MQTT_QOS": "2"}
        )
    assert len(caught.value.problems) == 2
    with pytest.raises(ValueError):
        parse_broker_url("mqtt://")


def test_unknown_entities_and_bad_usage_exit_2(capsys):
    assert main(NEEDY, ["run", "--only", "Nope"]) == 2
    assert "Nope" in capsys.readouterr().err
    assert main(NEEDY, []) == 2


def _start(tmp_path, mosquitto, *args):
    script = tmp_path / "tiny_site.py"
    script.write_text(TINY_SITE)
    env = {
        **os.environ,
        "TINY_HOST": "h",
        "LOT_SECRET_TINY_TOKEN": "t0ken",
        "LOT_SECRETS_DIR": str(tmp_path / "none"),
        "LOT_BROKER_URL": f"mqtt://user:hunter2@127.0.0.1:{mosquitto.port}",
    }
    return subprocess.Popen(
        [sys.executable, str(script), "run", *args],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_status(seen, status, timeout=10.0):
    found = seen.wait_until(lambda ms: any(m.payload == status for m in ms), timeout)
    assert any(m.payload == status for m in found), found


def test_sigterm_publishes_offline_and_exits_0(tmp_path, mosquitto):
    with mosquitto.collect("lot/tiny/status", "echo/#") as seen:
        process = _start(tmp_path, mosquitto)
        try:
            _wait_status(seen, b"online")
            mosquitto.publish("in/1", "hello")
            seen.wait_until(lambda ms: any(m.topic == "echo/1" for m in ms))
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0
        finally:
            process.kill()
        _wait_status(seen, b"offline")
    stderr = process.stderr.read()
    assert "stopping on SIGTERM" in stderr
    assert "hunter2" not in stderr and "t0ken" not in stderr and "hello" not in stderr
    assert mosquitto.retained("lot/tiny/status") == b"offline"


def test_the_will_says_offline_when_the_process_dies(tmp_path, mosquitto):
    with mosquitto.collect("lot/tiny/status") as seen:
        process = _start(tmp_path, mosquitto, "--only", "Echo")
        try:
            _wait_status(seen, b"online")
            time.sleep(0.1)
            process.kill()
            process.wait(5)
        finally:
            process.kill()
        _wait_status(seen, b"offline")
    assert mosquitto.retained("lot/tiny/status") == b"offline"
