"""The data-path benchmark: a lotc site, idiomatic aiomqtt and Node-RED side by side.

One command, run by hand (never by pytest)::

    .venv/bin/python bench/runtime/run.py            # about 15 minutes
    .venv/bin/python bench/runtime/run.py --rounds 1 --quick

It builds what it needs (the harness's C load generator, sink and reference
normaliser, compiled into build/bench-runtime/ from ../shared/bench-harness/c;
Node-RED 4 from npm into bench/node_modules; aiomqtt in a venv of its own;
the bench site with lotc), starts its own Mosquitto (`max_queued_messages 0`;
the latency runs also with `set_tcp_nodelay true`) on a free loopback port,
and measures the three subjects and the C reference in interleaved rounds.
Every run's figures go to build/bench-runtime/results.jsonl; the medians,
ratios and targets to the marked section of bench/RESULTS.md, and a plot to
bench/runtime/results.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BUILD = REPO / "build" / "bench-runtime"
HARNESS = Path(os.environ.get("LOTC_SHARED", REPO.parent / "shared")) / "bench-harness"
CLK = os.sysconf("SC_CLK_TCK")
IN_FILTER = "acme/+/+/hvac/+/metrics/cooling_power"
OUT_FILTER = "acme/+/+/hvac/+/processed"
# "c" is a reference, not a subject: the harness's transform in C on raw
# sockets, the fastest any two-hop service gets through this broker.
SUBJECTS = ("site", "aiomqtt", "nodered", "c")
NODE_FUNCTION = r"""const parts = msg.topic.split("/");
const building = parts[1], floor = parts[2], device = parts[4];
msg.topic = `acme/${building}/${floor}/hvac/${device}/processed`;
msg.payload = JSON.stringify({
    device_id: device,
    building: building,
    cooling_power_kw: parseFloat(msg.payload),
    timestamp: new Date().toISOString()
});
return msg;"""

sys.path.insert(0, str(HERE))
from report import write_report  # noqa: E402

# -- building what the benchmark needs


def _run(
    *command: str | Path, cwd: Path | None = None, stderr: int | None = None
) -> None:
    subprocess.run([str(c) for c in command], check=True, cwd=cwd, stderr=stderr)


def prepare() -> dict[str, str]:
    """Build or install every tool; returns the versions found."""
    BUILD.mkdir(parents=True, exist_ok=True)
    missing = [b for b in ("mosquitto", "gcc", "node", "npm") if not _which(b)]
    if missing:
        packages = {"gcc": "gcc", "mosquitto": "mosquitto", "node": "nodejs"}
        wanted = sorted({packages.get(b, b) for b in missing})
        print(f"installing {', '.join(wanted)}", flush=True)
        _run("apt-get", "update", "-qq")
        _run("apt-get", "install", "-y", "-qq", *wanted)
    for tool, extra in (("pub", ["-lpthread"]), ("sink", []), ("normalizer", [])):
        binary = BUILD / tool
        source = HARNESS / "c" / f"{tool}.c"
        if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
            _run("gcc", "-O2", "-Wall", "-o", binary, source, *extra)
    if not (HERE.parent / "node_modules" / "node-red" / "red.js").exists():
        print("installing Node-RED into bench/node_modules", flush=True)
        _run("npm", "install", "--no-audit", "--no-fund", "--silent", cwd=HERE.parent)
    try:
        import matplotlib  # noqa: F401  (the plot of the results)
    except ImportError:
        print("installing matplotlib", flush=True)
        _run(sys.executable, "-m", "pip", "install", "--quiet", "matplotlib")
    venv = BUILD / "venv-aiomqtt"
    if not (venv / "bin" / "python").exists():
        _run(sys.executable, "-m", "venv", venv)
        _run(venv / "bin" / "pip", "install", "--quiet", "aiomqtt~=2.5.1")
    tree = BUILD / "site"
    shutil.rmtree(tree, ignore_errors=True)
    lotc = REPO / ".venv" / "bin" / "lotc"
    _run(lotc, "build", HERE / "site", "-o", BUILD / "dist", "--emit", tree,
         stderr=subprocess.DEVNULL)  # fmt: skip
    return _versions(venv)


def _commit() -> str:
    """The commit measured, marked when the working tree differs from it."""
    head = _output("git", "-C", REPO, "rev-parse", "--short", "HEAD")
    changed = _output("git", "-C", REPO, "status", "--porcelain", "--", "lotc",
                      "runtime_lib")  # fmt: skip
    return head + (" (with local changes)" if changed else "")


def _which(binary: str) -> str | None:
    return shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")


def _output(*command: str | Path) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    return (done.stdout + done.stderr).strip()


def _versions(venv: Path) -> dict[str, str]:
    red = json.loads(
        (HERE.parent / "node_modules" / "node-red" / "package.json").read_text()
    )
    code = "import importlib.metadata as m; print(m.version('{}'))"
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "date": time.strftime("%Y-%m-%d"),
        "lotc commit": _commit(),
        "cpu": f"{os.cpu_count()} x {model}",
        "memory": f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') >> 30}"
        " GiB",
        "kernel": os.uname().release,
        "mosquitto": _output(_which("mosquitto") or "mosquitto", "-h").splitlines()[0],
        "python": sys.version.split()[0],
        "mqtt5": _output(sys.executable, "-c", code.format("mqtt5")),
        "aiomqtt": _output(venv / "bin" / "python", "-c", code.format("aiomqtt")),
        "paho-mqtt": _output(venv / "bin" / "python", "-c", code.format("paho-mqtt")),
        "node": _output("node", "--version"),
        "node-red": red["version"],
    }


# -- processes


class Broker:
    """Our own mosquitto on a free loopback port."""

    def __init__(self, nodelay: bool) -> None:
        self.port = _free_port()
        config = BUILD / f"mosquitto-{'nodelay' if nodelay else 'default'}.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            "persistence false\nmax_queued_messages 0\nmax_queued_bytes 0\n"
            "log_dest stderr\nlog_type error\nlog_type warning\n"
            + ("set_tcp_nodelay true\n" if nodelay else "")
        )
        log = open(BUILD / "mosquitto.log", "ab")  # noqa: SIM115
        binary = _which("mosquitto") or "mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=log, stderr=log
        )
        time.sleep(0.3)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _node_red_dir(port: int) -> Path:
    folder = BUILD / "node-red"
    folder.mkdir(exist_ok=True)
    (folder / "settings.js").write_text(
        "module.exports = {\n"
        f'  uiHost: "127.0.0.1", uiPort: {_free_port()},\n'
        "  httpAdminRoot: false, httpNodeRoot: false, credentialSecret: false,\n"
        '  logging: { console: { level: "warn", metrics: false, audit: false } },\n'
        "  telemetry: { enabled: false }, diagnostics: { enabled: false },\n"
        "  externalModules: { autoInstall: false },\n"
        "};\n"
    )
    for qos in (0, 1):
        flow = [
            {"id": "t", "type": "tab", "label": "normaliser"},
            {"id": "b", "type": "mqtt-broker", "broker": "127.0.0.1",
             "port": str(port), "clientid": "", "autoConnect": True,
             "usetls": False, "protocolVersion": "4", "keepalive": "60",
             "cleansession": True},
            {"id": "i", "type": "mqtt in", "z": "t", "topic": IN_FILTER,
             "qos": str(qos), "datatype": "auto-detect", "broker": "b",
             "nl": False, "rap": True, "rh": 0, "inputs": 0, "wires": [["f"]]},
            {"id": "f", "type": "function", "z": "t", "func": NODE_FUNCTION,
             "outputs": 1, "wires": [["o"]]},
            {"id": "o", "type": "mqtt out", "z": "t", "topic": "", "qos": str(qos),
             "retain": "false", "broker": "b", "wires": []},
        ]  # fmt: skip
        (folder / f"flows_qos{qos}.json").write_text(json.dumps(flow, indent=1))
    return folder


def start_subject(subject: str, qos: int, port: int) -> subprocess.Popen[bytes]:
    log = open(BUILD / f"{subject}.log", "ab")  # noqa: SIM115
    env = dict(os.environ)
    if subject == "site":
        command = [sys.executable, "-m", "bench_normaliser", "run"]
        env.update(
            PYTHONPATH=str(BUILD / "site"),
            LOT_BROKER_URL=f"mqtt://127.0.0.1:{port}",
            LOT_MQTT_QOS=str(qos),  # the site runs at the QoS of the measurement
            # No session kept between runs: the broker would otherwise queue
            # the next subject's flood for the stopped site.
            LOT_CLEAN_START="1",
            LOT_LOG_LEVEL="WARNING",
        )
    elif subject == "c":
        command = [str(BUILD / "normalizer"), "-P", str(port), "-q", str(qos)]
    elif subject == "aiomqtt":
        python = BUILD / "venv-aiomqtt" / "bin" / "python"
        command = [str(python), str(HERE / "normaliser_aiomqtt.py")]
        command += ["--port", str(port), "--qos", str(qos)]
    else:
        red = HERE.parent / "node_modules" / "node-red" / "red.js"
        folder = _node_red_dir(port)
        command = ["node", str(red), "--settings", str(folder / "settings.js")]
        command += ["--userDir", str(folder), f"flows_qos{qos}.json"]
    return subprocess.Popen(command, stdout=log, stderr=log, env=env)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_sink(port: int, n: int, qos: int, idle: float) -> subprocess.Popen[str]:
    command = [str(BUILD / "sink"), "-P", str(port), "-t", OUT_FILTER, "-q", str(qos)]
    command += ["-n", str(n), "-i", str(idle), "-T", "30"]
    sink = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert sink.stdout is not None
    line = sink.stdout.readline().strip()
    if line != "READY":
        raise RuntimeError(f"the sink did not start: {line!r}")
    return sink


def finish(process: subprocess.Popen[str]) -> dict[str, float]:
    out, _ = process.communicate()
    return dict(json.loads(out.strip().splitlines()[-1]))


def publish(port: int, n: int, qos: int, rate: float = 0.0) -> dict[str, float]:
    command = [str(BUILD / "pub"), "-P", str(port), "-n", str(n), "-q", str(qos)]
    command += ["-r", str(rate)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip()))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def memory_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    """VmRSS every 50 ms: the whole curve, to see that memory stays bounded."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.samples, self.done = pid, [], threading.Event()
        self.start()

    def run(self) -> None:
        start = time.monotonic()
        while not self.done.wait(0.05):
            try:
                self.samples.append(
                    (time.monotonic() - start, memory_kb(self.pid, "VmRSS"))
                )
            except OSError:
                return


def wait_ready(port: int, qos: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the subject exited: see {BUILD}/*.log")
        sink = start_sink(port, 1, qos, idle=0.5)
        publish(port, 1, qos)
        if finish(sink)["count"] >= 1:
            return
    raise RuntimeError("the subject never forwarded a message")


# -- one measurement


def measure(
    subject: str, broker: Broker, qos: int, n: int, rate: float = 0.0
) -> dict[str, object]:
    process = start_subject(subject, qos, broker.port)
    try:
        wait_ready(broker.port, qos, process)
        time.sleep(0.5)
        idle_rss = memory_kb(process.pid, "VmRSS")
        warm = start_sink(broker.port, 5000, qos, idle=5)
        publish(broker.port, 5000, qos, rate=20_000)
        finish(warm)
        time.sleep(0.2)
        load = os.getloadavg()
        cpu0, broker0 = cpu_seconds(process.pid), cpu_seconds(broker.process.pid)
        sampler = RssSampler(process.pid)
        sink = start_sink(broker.port, n, qos, idle=10)
        sent = publish(broker.port, n, qos, rate)
        got = finish(sink)
        sampler.done.set()
        cpu1, broker1 = cpu_seconds(process.pid), cpu_seconds(broker.process.pid)
        peak = memory_kb(process.pid, "VmHWM")
    finally:
        stop(process)
    count = int(got["count"])
    wall = got["t_last"] - sent["t_start"] if count else float("nan")
    return {
        "subject": subject,
        "qos": qos,
        "n": n,
        "rate": rate,
        "received": count,
        "lost": n - count,
        "bad": got["bad"],
        "msg_per_s": count / wall if count else 0.0,
        "cpu_us_per_msg": (cpu1 - cpu0) * 1e6 / max(count, 1),
        "broker_cpu_us_per_msg": (broker1 - broker0) * 1e6 / max(count, 1),
        "peak_rss_mb": peak / 1024,
        "idle_rss_mb": idle_rss / 1024,
        "rss_curve_mb": [(round(t, 2), kb / 1024) for t, kb in sampler.samples],
        "p50_ms": got["lat_p50_ms"],
        "p99_ms": got["lat_p99_ms"],
        "load_avg": load,
        "ts": time.time(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--subjects", default=",".join(SUBJECTS))
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the messages: a smoke run"
    )
    args = parser.parse_args()
    if not (HARNESS / "c").is_dir():
        parser.error(f"no benchmark harness at {HARNESS} (set LOTC_SHARED)")
    subjects = args.subjects.split(",")
    scale = 10 if args.quick else 1
    plan = [
        ("flood_qos0", False, 0, 200_000 // scale, 0.0),
        ("flood_qos1", False, 1, 100_000 // scale, 0.0),
        ("paced_1000", False, 0, 10_000 // scale, 1000.0),
        ("paced_1000_nodelay", True, 0, 10_000 // scale, 1000.0),
    ]
    versions = prepare()
    results_file = BUILD / "results.jsonl"
    results: list[dict[str, object]] = []
    load_start = os.getloadavg()
    with open(results_file, "w") as out:
        for nodelay in (False, True):
            broker = Broker(nodelay)
            try:
                for round_ in range(args.rounds):
                    for tag, needs_nodelay, qos, n, rate in plan:
                        if needs_nodelay != nodelay:
                            continue
                        for subject in subjects:
                            row = measure(subject, broker, qos, n, rate)
                            row.update(tag=tag, round=round_)
                            results.append(row)
                            out.write(json.dumps(row) + "\n")
                            out.flush()
                            print(
                                f"[{tag} r{round_}] {subject}: "
                                f"{row['msg_per_s']:.0f} msg/s, "
                                f"{row['cpu_us_per_msg']:.1f} us/msg, "
                                f"broker {row['broker_cpu_us_per_msg']:.1f} us/msg, "
                                f"peak {row['peak_rss_mb']:.0f} MB, "
                                f"p50 {row['p50_ms']:.2f} ms, lost {row['lost']}",
                                flush=True,
                            )
            finally:
                broker.stop()
    versions["load averages"] = (
        f"{load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f} at the start, "
        + "{:.2f} {:.2f} {:.2f} at the end".format(*os.getloadavg())
    )
    full = not args.quick and set(subjects) == set(SUBJECTS)
    write_report(results, versions, args.rounds, subjects, record=full)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
