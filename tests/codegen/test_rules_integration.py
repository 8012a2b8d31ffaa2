"""Access rules compiled by lotc into a dynamic-security policy, loaded by a
real Mosquitto with its dynamic-security plugin: each client is allowed and
refused what the rules say, named users, other users and anonymous clients
alike.  Passwords are the operator's part; the test sets them in the file
the way the plugin stores them (PBKDF2-SHA512, 101 rounds)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from support.mosquitto import Mosquitto

from lotc import cli

# Debian's mosquitto package puts the plugin under the machine's triplet.
PLUGIN = next(
    iter(sorted(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so"))),
    Path("/usr/lib/mosquitto_dynamic_security.so"),
)
RULES = """
DEFINE RULE TechniciansWriteSetpoints WITH PRIORITY 150 FOR Publish TO TOPIC "hvac/+/setpoint"
    IF USER IS "tech-ana" OR USER IS "facility-admin" THEN
        ALLOW
    ELSE
        DENY

DEFINE RULE OnlyTheAuditorReadsAudit WITH PRIORITY 120 FOR Subscribe TO TOPIC "audit/#"
    IF NOT USER IS "auditor" THEN
        DENY
    ELSE
        ALLOW

DEFINE RULE NobodyWritesAudit WITH PRIORITY 110 FOR Publish TO TOPIC "audit/#" DENY

DEFINE RULE AdminMayFixAudit WITH PRIORITY 105 FOR Publish TO TOPIC "audit/fix"
    IF USER IS "facility-admin" THEN
        ALLOW
    ELSE
        DENY

DEFINE RULE NotesForAll WITH PRIORITY 110 FOR Publish TO TOPIC "audit/note" ALLOW
"""  # noqa: E501
PASSWORD = "s3cret"


def _with_password(client: dict) -> dict:
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", PASSWORD.encode(), salt, 101)
    return {
        **client,
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": 101,
    }


@pytest.fixture
def broker(tmp_path):
    if not PLUGIN.exists():
        pytest.fail(f"Mosquitto's dynamic-security plugin is not at {PLUGIN}")
    site = tmp_path / "src"
    site.mkdir()
    (site / "site.toml").write_text('[site]\nname = "guarded"\n')
    (site / "rules.lot").write_text(RULES)
    tree = tmp_path / "tree"
    status = cli.main(
        ["build", str(site), "-o", str(tmp_path / "dist"), "--emit", str(tree)]
    )
    assert status == cli.EXIT_OK
    policy = json.loads((tree / "guarded/broker/dynamic-security.json").read_text())
    # The operator's part: passwords, and other clients in lot-everyone.
    policy["clients"] = [_with_password(c) for c in policy["clients"]]
    policy["clients"].append(_with_password({"username": "bob", "roles": []}))
    [everyone] = policy["groups"]
    everyone["clients"].append({"username": "bob"})
    folder = tmp_path / "broker"
    folder.mkdir()
    (folder / "dynsec.json").write_text(json.dumps(policy))
    server = Mosquitto(
        folder,
        extra_config=f"plugin {PLUGIN}\nplugin_opt_config_file {folder}/dynsec.json\n",
    )
    with server:
        yield server


def _try(broker, user: str | None, publish=(), subscribe=()) -> dict[str, bool]:
    """Whether the broker allowed each publish and subscription of a client."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    if user:
        client.username_pw_set(user, PASSWORD)
    outcome: dict[str, bool] = {}
    done = threading.Event()
    client.on_publish = lambda c, u, mid, rc, p: (
        outcome.__setitem__(f"pub {pending[mid]}", not rc.is_failure),
        done.set(),
    )
    client.on_subscribe = lambda c, u, mid, rcs, p: (
        outcome.__setitem__(f"sub {pending[mid]}", not rcs[0].is_failure),
        done.set(),
    )
    pending: dict[int, str] = {}
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for topic in publish:
            done.clear()
            info = client.publish(topic, b"x", qos=1)
            pending[info.mid] = topic
            assert done.wait(5), topic
        for topic in subscribe:
            done.clear()
            _, mid = client.subscribe(topic, qos=1)
            pending[mid] = topic
            assert done.wait(5), topic
    finally:
        client.loop_stop()
        client.disconnect()
    return outcome


def test_the_compiled_policy_allows_and_refuses_what_the_rules_say(broker):
    time.sleep(0.2)
    assert _try(
        broker, "tech-ana", ["hvac/3/setpoint", "audit/fix", "hvac/3/temp"], ["audit/#"]
    ) == {
        "pub hvac/3/setpoint": True,
        "pub audit/fix": False,
        "pub hvac/3/temp": True,
        "sub audit/#": False,
    }
    assert _try(broker, "facility-admin", ["hvac/1/setpoint", "audit/fix"]) == {
        "pub hvac/1/setpoint": True,
        "pub audit/fix": True,
    }
    assert _try(broker, "auditor", ["audit/log"], ["audit/#", "audit/2024"]) == {
        "pub audit/log": False,
        "sub audit/#": True,
        "sub audit/2024": True,
    }
    for user in ("bob", None):  # a client no rule names, and an anonymous one
        assert _try(
            broker, user, ["hvac/1/setpoint", "lights/on"], ["audit/x", "#"]
        ) == {
            "pub hvac/1/setpoint": False,
            "pub lights/on": True,
            "sub audit/x": False,
            # LoT matches the filter a client asks for: `#` is not `audit/#`.
            "sub #": True,
        }, user
