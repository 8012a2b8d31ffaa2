"""Device route benchmark: tags per second polled by one site process.

``python bench/devices/run.py`` starts a pymodbus simulator, an S7 server
(python-snap7's) and a BACnet/IP device (bacpypes3), all in this process,
a Logix controller (cpppo's, in a process of its own) and Mosquitto on free
ports, then runs a site with one ``ModbusRoute``, ``S7Route``,
``BacnetRoute`` or ``LogixRoute`` in a child process for each configuration
below, and counts, over a window of
``--seconds``, the tag values that reach the broker and the CPU time the site
process used.  Every value is published at every poll (no deadband), so
values on the broker = tags polled.

It prints a Markdown table and writes it into the ``bench/devices`` section
of ``bench/RESULTS.md``; ``--no-record`` skips the file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from support.bacnet import BacnetSimulator  # noqa: E402
from support.logix import LogixSimulator  # noqa: E402
from support.modbus import ModbusSimulator  # noqa: E402
from support.mosquitto import Mosquitto  # noqa: E402
from support.s7 import S7Simulator  # noqa: E402

# One site script per protocol: argv is the device port, the tag count, the
# data type, the poll period and the broker URL.
SITES = {
    "Modbus": """\
import sys
from lot_runtime import Site, main
from lot_runtime.routes.modbus import ModbusRoute, ModbusTag

port, count, data_type, every, url = sys.argv[1:6]
width = {"UINT16": 1, "FLOAT32": 2}[data_type]
tags = tuple(
    ModbusTag(name=f"t{i}", address=i * width, topic=f"bench/t{i}",
              data_type=data_type, every=float(every))
    for i in range(int(count))
)
route = ModbusRoute(name="Bench", host="127.0.0.1", port=int(port), tags=tags)
site = Site(name="bench-devices", routes=(route,))
raise SystemExit(main(site, ["run", "--broker", url]))
""",
    "S7": """\
import sys
from lot_runtime import Site, main
from lot_runtime.routes.s7 import S7Route, S7Tag

port, count, data_type, every, url = sys.argv[1:6]
width = {"INT": 2, "REAL": 4}[data_type]
tags = tuple(
    S7Tag(name=f"t{i}", db=1, start=i * width, topic=f"bench/t{i}",
          data_type=data_type, every=float(every))
    for i in range(int(count))
)
route = S7Route(name="Bench", host="127.0.0.1", port=int(port), tags=tags)
site = Site(name="bench-devices", routes=(route,))
raise SystemExit(main(site, ["run", "--broker", url]))
""",
    "BACnet": """\
import sys
from lot_runtime import Site, main
from lot_runtime.routes.bacnet import BacnetRoute, BacnetTag

port, count, data_type, every, url = sys.argv[1:6]
tags = tuple(
    BacnetTag(name=f"t{i}", object_type="analog-input", instance=0,
              topic=f"bench/t{i}", every=float(every))
    for i in range(int(count))
)
route = BacnetRoute(name="Bench", host="127.0.0.1", port=int(port),
                    device_id=1234, local_address="127.0.0.1:0", tags=tags)
site = Site(name="bench-devices", routes=(route,))
raise SystemExit(main(site, ["run", "--broker", url]))
""",
    "Logix": """\
import sys
from lot_runtime import Site, main
from lot_runtime.routes.logix import LogixRoute, LogixTag

port, count, data_type, every, url = sys.argv[1:6]
tags = tuple(
    LogixTag(name=f"t{i}", address=f"bench[{i}]", topic=f"bench/t{i}",
             data_type=data_type, every=float(every))
    for i in range(int(count))
)
route = LogixRoute(name="Bench", host="127.0.0.1", port=int(port), tags=tags)
site = Site(name="bench-devices", routes=(route,))
raise SystemExit(main(site, ["run", "--broker", url]))
""",
}

# (protocol, tags, data type, poll period in seconds)
CONFIGURATIONS = [
    ("Modbus", 100, "UINT16", 1.0),
    ("Modbus", 1_000, "UINT16", 0.1),
    ("Modbus", 1_000, "FLOAT32", 0.1),
    ("Modbus", 5_000, "UINT16", 0.1),
    ("S7", 100, "INT", 1.0),
    ("S7", 1_000, "INT", 0.1),
    ("S7", 1_000, "REAL", 0.1),
    ("S7", 5_000, "INT", 0.1),
    # Every tag reads the same object, 16 to a ReadPropertyMultiple.
    ("BACnet", 100, "REAL", 1.0),
    ("BACnet", 1_000, "REAL", 0.1),
    # Elements of one DINT array, in Multiple Service requests.
    ("Logix", 100, "DINT", 1.0),
    ("Logix", 1_000, "DINT", 0.1),
]
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(
    broker,
    device,
    script: Path,
    tags: int,
    data_type: str,
    every: float,
    seconds: float,
) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "runtime_lib"),
        "LOT_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        str(script),
        str(device.port),
        str(tags),
        data_type,
        str(every),
        broker.url,
    ]
    with broker.collect("bench/#") as seen:
        process = subprocess.Popen(command, env=env)
        try:
            seen.wait_until(lambda ms: len(ms) >= tags, 30)
            time.sleep(1.0)  # past the start-up
            cpu, count, start = (
                _cpu_seconds(process.pid),
                len(seen.messages),
                time.monotonic(),
            )
            time.sleep(seconds)
            cpu_used = _cpu_seconds(process.pid) - cpu
            received = len(seen.messages) - count
            elapsed = time.monotonic() - start
        finally:
            process.terminate()
            process.wait(15)
    return {
        "offered": tags / every,
        "rate": received / elapsed,
        "cpu": cpu_used / elapsed,
    }


def render(
    results: list[tuple[tuple[str, int, str, float], dict[str, float]]],
) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout.strip()
    load = os.getloadavg()
    lines = [
        "## Device routes: tags polled per second",
        "",
        "Written by `python bench/devices/run.py`; rerun it rather than edit.",
        "",
        f"- date: {dt.date.today().isoformat()}",
        f"- machine: nproc {os.cpu_count()}, {platform.machine()}, "
        f"Python {platform.python_version()}",
        f"- lotc commit: {commit}",
        f"- load average before: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
        "- one site process, one `ModbusRoute`, `S7Route`, `BacnetRoute` or "
        "`LogixRoute`, the simulators and the broker on the same machine; every "
        "value published at every poll",
        "- the counting subscriber and the simulators share one Python process:",
        "  where the site's CPU share stays well below one core, they, not the",
        "  route, set the ceiling (the S7 server answers each request in a",
        "  Python thread; the BACnet device answers each request on the",
        "  same process's event loop); the Logix controller (cpppo, pure",
        "  Python) has a process of its own and sets the ceiling of its rows",
        "",
        "| protocol | tags | type | period | asked (tags/s) | "
        "polled and published (tags/s) | site CPU (share of one core) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (protocol, tags, data_type, every), found in results:
        lines.append(
            f"| {protocol} | {tags:,} | {data_type} | {every:g} s | "
            f"{found['offered']:,.0f} | {found['rate']:,.0f} | {found['cpu']:.0%} |"
        )
    return "\n".join(lines)


def record(table: str) -> None:
    path = REPO / "bench" / "RESULTS.md"
    begin, end = "<!-- bench/devices: begin -->", "<!-- bench/devices: end -->"
    text = path.read_text()
    section = f"{begin}\n{table}\n{end}"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-record", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scripts = {}
        for protocol, text in SITES.items():
            scripts[protocol] = Path(folder) / f"site_{protocol.lower()}.py"
            scripts[protocol].write_text(textwrap.dedent(text))
        results = []
        with (
            Mosquitto(Path(folder) / "broker") as broker,
            ModbusSimulator(size=10_000) as modbus,
            S7Simulator(size=20_000) as s7,
            BacnetSimulator() as bacnet,
            LogixSimulator("bench=DINT[5000]") as logix,
        ):
            devices = {"Modbus": modbus, "S7": s7, "BACnet": bacnet, "Logix": logix}
            for protocol, tags, data_type, every in CONFIGURATIONS:
                found = measure(
                    broker,
                    devices[protocol],
                    scripts[protocol],
                    tags,
                    data_type,
                    every,
                    options.seconds,
                )
                print(protocol, tags, data_type, every, found, flush=True)
                results.append(((protocol, tags, data_type, every), found))
    table = render(results)
    print(table)
    if not options.no_record:
        record(table)


if __name__ == "__main__":
    main()
