"""Bridge benchmark: lotc's MQTT_BRIDGE next to Mosquitto's own bridge.

``python bench/bridge/run.py`` starts two Mosquitto brokers on free ports,
edge and cloud.  The edge broker also carries a Mosquitto bridge (a
``connection`` block) forwarding ``bench/mq/#`` to ``up/mq/#`` on the cloud
at QoS 1; a generated lotc site with one MQTT_BRIDGE mapping forwards
``bench/lot/#`` to ``up/lot/#``.  For each bridge in turn,
a paho client publishes N numbered 64-byte messages at QoS 1 on the edge
(500 in flight) and ``mosquitto_sub`` on the cloud waits for all of them; the rate is
N over the time from the first publish to the last arrival.  CPU is read
from /proc for the lotc site process and both brokers over the same span
and scaled to 100,000 messages (Mosquitto's bridge runs inside the edge
broker, so its cost is in the edge column).

A second pass measures the replay: the cloud is stopped, N messages are
published and spooled (lotc) or queued (Mosquitto), the cloud is started,
and the time to the last arrival is taken.

It prints a Markdown table and writes it into the bridge section of
``bench/RESULTS.md``; ``--no-record`` skips the file.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

import paho.mqtt.client as paho  # noqa: E402
from support.mosquitto import Mosquitto  # noqa: E402

from lotc import cli  # noqa: E402

RESULTS = REPO / "bench" / "RESULTS.md"
BEGIN, END = "<!-- bench/bridge: begin -->", "<!-- bench/bridge: end -->"
TICKS = os.sysconf("SC_CLK_TCK")

SITE = """\
DEFINE ROUTE Uplink WITH TYPE MQTT_BRIDGE
    ADD SOURCE_CONFIG
        WITH BROKER SELF
    ADD DESTINATION_CONFIG
        WITH BROKER_ADDRESS "127.0.0.1"
        WITH BROKER_PORT GET ENV "CLOUD_PORT"
        WITH CLIENT_ID "bench-lot-bridge"
    ADD MAPPING benchUp
        WITH SOURCE_TOPIC "bench/lot/#"
        WITH DESTINATION_TOPIC "up/lot/#"
        WITH DIRECTION "out"
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def build_site(folder: Path) -> Path:
    source = folder / "bench-bridge"
    source.mkdir()
    (source / "site.lot").write_text(SITE)
    tree = folder / "tree"
    argv = ["build", str(source), "-o", str(folder / "dist"), "--emit", str(tree)]
    assert cli.main(argv) == cli.EXIT_OK
    return tree


def wait_for_line(path: Path, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.05)
    tail = path.read_text(errors="replace")[-2000:] if path.exists() else ""
    raise RuntimeError(f"{text!r} never appeared in {path}:\n{tail}")


def pid(broker: Mosquitto) -> int:
    assert broker._process is not None
    return broker._process.pid


def publish_numbered(broker: Mosquitto, topic: str, count: int) -> None:
    """Publish `count` numbered 64-byte messages at QoS 1, 500 in flight.
    (`mosquitto_pub -l` is faster but drops messages at QoS 1 when its input
    ends before its acknowledgements.)"""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(500)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for n in range(count):
            info = client.publish(topic, f"{n:08d} " + "x" * 55, qos=1)
            if n % 500 == 499:
                info.wait_for_publish(60)
        info.wait_for_publish(60)
    finally:
        client.disconnect()
        client.loop_stop()


def pass_through(
    edge: Mosquitto, cloud: Mosquitto, prefix: str, count: int, outage: bool
) -> float:
    """Seconds from the first publish to the last arrival of `count`
    messages published on bench/<prefix>/...; after an outage, from the
    first arrival (reconnect delays left out) to the last."""
    if outage:
        cloud.stop()
        time.sleep(0.5)
        publish_numbered(edge, f"bench/{prefix}/n", count)
        time.sleep(3.0)  # let the bridge take everything in
        cloud.start()
    receive = subprocess.Popen(
        [
            "mosquitto_sub",
            *("-h", cloud.host, "-p", str(cloud.port), "-q", "1", "-V", "mqttv5"),
            *("-t", f"up/{prefix}/#", "-C", str(count), "-F", "%U"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)  # subscribed before anything is sent
    start = time.monotonic()
    if not outage:
        publish_numbered(edge, f"bench/{prefix}/n", count)
    try:
        arrivals, _ = receive.communicate(timeout=120)
    finally:
        receive.kill()
    if outage:
        stamps = arrivals.split()
        return float(stamps[-1]) - float(stamps[0])
    return time.monotonic() - start


def measure(args: argparse.Namespace, folder: Path) -> list[tuple[str, str, str]]:
    cloud = Mosquitto(folder / "cloud", extra_config="max_queued_messages 0\n")
    bridge_port = cloud.port
    edge = Mosquitto(
        folder / "edge",
        extra_config=textwrap.dedent(
            f"""\
            max_queued_messages 0
            connection mosquitto-bridge
            address 127.0.0.1:{bridge_port}
            topic # out 1 bench/mq/ up/mq/
            cleansession false
            bridge_protocol_version mqttv50
            restart_timeout 1 2
            """
        ),
    )
    tree = build_site(folder)
    rows: list[tuple[str, str, str]] = []
    with edge, cloud:
        env = {
            **os.environ,
            "PYTHONPATH": str(tree),
            "LOT_BROKER_URL": edge.url,
            "LOT_STATE_DIR": str(folder / "state"),
            "CLOUD_PORT": str(cloud.port),
        }
        log = folder / "site.log"
        with open(log, "wb") as out:
            site = subprocess.Popen(
                [sys.executable, "-m", "bench_bridge", "run"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_line(log, "route Uplink: connected")
            time.sleep(1.0)
            for name, prefix in (
                ("lotc MQTT_BRIDGE", "lot"),
                ("Mosquitto bridge", "mq"),
            ):
                pids = {"site": site.pid, "edge": pid(edge), "cloud": pid(cloud)}
                before = {k: cpu_seconds(p) for k, p in pids.items()}
                seconds = pass_through(edge, cloud, prefix, args.count, False)
                after = {k: cpu_seconds(p) for k, p in pids.items()}
                scale = 100_000 / args.count
                cpu = {k: (after[k] - before[k]) * scale for k in pids}
                if prefix == "mq":
                    cpu_text = f"edge broker (with its bridge) {cpu['edge']:.2f} s"
                else:
                    cpu_text = (
                        f"site {cpu['site']:.2f} s + edge broker {cpu['edge']:.2f} s"
                    )
                rows.append(
                    (
                        f"{name}: live, {args.count:,} msgs",
                        f"{args.count / seconds:,.0f} msg/s",
                        f"{cpu_text}; cloud {cpu['cloud']:.2f} s",
                    )
                )
            for name, prefix in (
                ("lotc MQTT_BRIDGE", "lot"),
                ("Mosquitto bridge", "mq"),
            ):
                seconds = pass_through(edge, cloud, prefix, args.count, True)
                rows.append(
                    (
                        f"{name}: replay of {args.count:,} after an outage",
                        f"{args.count / seconds:,.0f} msg/s",
                        "first to last arrival after the reconnect",
                    )
                )
        finally:
            site.terminate()
            site.wait(20)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp:
        rows = measure(args, Path(tmp))
    load_after = os.getloadavg()
    version = subprocess.run(
        ["mosquitto", "-h"], capture_output=True, text=True
    ).stdout.splitlines()[0]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--short", "runtime_lib"],
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout.split()[1::2]
    local = f" (with local changes to {', '.join(changed)})" if changed else ""
    table = "\n".join(
        ["| measure | rate | CPU per 100,000 messages |", "|---|---|---|"]
        + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    )
    section = "\n".join(
        [
            BEGIN,
            "## MQTT bridge: lotc MQTT_BRIDGE and Mosquitto's bridge",
            "",
            "Written by `python bench/bridge/run.py`; rerun it rather than edit.",
            "Both bridges forward QoS 1 messages of 64 bytes from an edge",
            "Mosquitto to a cloud Mosquitto on loopback; a paho client",
            "publishes (about 11,000 msg/s at most on this machine, so the live",
            "rates are bounded by it), `mosquitto_sub` on the cloud counts. The",
            "replay rows measure the bridges alone: N messages wait while the",
            "cloud is down, then drain.",
            "",
            f"- date: {datetime.date.today().isoformat()}",
            f"- machine: nproc {os.cpu_count()}, {platform.machine()}, "
            f"Python {platform.python_version()}, {version}",
            f"- lotc commit: {commit}{local}",
            "- load average (1 / 5 / 15 min): "
            + " / ".join(f"{x:.2f}" for x in load_before)
            + " before, "
            + " / ".join(f"{x:.2f}" for x in load_after)
            + " after",
            "",
            table,
            END,
        ]
    )
    print(section)
    if args.no_record:
        return
    text = RESULTS.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
