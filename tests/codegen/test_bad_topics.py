"""A topic computed from a payload can be no topic at all (`out/+`): the
action that would publish there is abandoned, and the site stays connected
and goes on.  Before, the message went out, the broker dropped the site for
it, and the site sent it again after every reconnect."""

from __future__ import annotations

import time

from support.site_process import SiteProcess

from lotc import cli

SITE = """
DEFINE ACTION Echo
ON TOPIC "in" DO
    PUBLISH TOPIC "out/" + PAYLOAD WITH "seen"
"""


def test_a_payload_that_makes_no_topic_abandons_only_its_execution(tmp_path, mosquitto):
    site = tmp_path / "src"
    site.mkdir()
    (site / "site.toml").write_text('[site]\nname = "echo"\n')
    (site / "site.lot").write_text(SITE)
    tree = tmp_path / "tree"
    status = cli.main(
        ["build", str(site), "-o", str(tmp_path / "dist"), "--emit", str(tree)]
    )
    assert status == cli.EXIT_OK
    process = SiteProcess(tree, "echo", mosquitto, log=tmp_path / "site.log").start()
    try:
        process.wait_online("echo")
        with mosquitto.collect("out/#") as seen:
            for payload in (b"+", b"a/#", b"ok", b"\x00", b"fine"):
                mosquitto.publish("in", payload)
            seen.wait_for(2)
            time.sleep(0.5)
        assert process.running
    finally:
        process.stop()
    output = process.output()
    assert [(m.topic, m.payload) for m in seen.messages] == [
        ("out/ok", b"seen"),
        ("out/fine", b"seen"),
    ], output
    assert "abandoned an execution on in: InvalidTopic" in output
    assert "lost the broker" not in output
