"""MariaDB route benchmark: rows per second, one statement per message vs
the multi-row INSERTs the route makes of the messages that wait.

``python bench/mysql/run.py`` starts its own MariaDB (its own defaults,
except that the redo log is flushed once a second rather than at every
commit, as the test server does) and Mosquitto on free ports, then
measures, in one run and on the same table:

1. ``one by one``: ``MysqlRoute`` with batching turned off, one
   autocommitted INSERT per message, as a route without batches does;
2. ``route``: ``MysqlRoute`` as lotc builds it, whose waiting INSERT
   messages go in one multi-row INSERT per batch of the spool.

End to end: the messages wait in the broker for the site's persistent
session, the site starts, and the clock runs until the last row is in the
table.  Every figure counts rows that are really there.

It prints a Markdown table and writes it into the ``bench/mysql`` section
of ``bench/RESULTS.md``; ``--no-record`` skips the file, ``--quick`` uses
fewer messages.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from lot_runtime import Site  # noqa: E402
from lot_runtime.routes.mysql import MysqlRoute, SqlEvent, SqlParameter  # noqa: E402
from runtime.sites import RunningSite  # noqa: E402
from support.mariadb import MariaDB  # noqa: E402
from support.mosquitto import Mosquitto  # noqa: E402

RESULTS = REPO / "bench" / "RESULTS.md"
BEGIN, END = "<!-- bench/mysql: begin -->", "<!-- bench/mysql: end -->"
TOPIC = "northwind/depot-n/basement/heating/boiler-{}/clean"
SCHEMA = (
    "DROP TABLE IF EXISTS boiler_samples; CREATE TABLE boiler_samples ("
    "id BIGINT AUTO_INCREMENT PRIMARY KEY, sampled_at DATETIME NOT NULL, "
    "boiler VARCHAR(40) NOT NULL, depot VARCHAR(40) NOT NULL, flow_temp_c DOUBLE)"
)
SQL = (
    "INSERT INTO boiler_samples (sampled_at, boiler, depot, flow_temp_c) "
    "VALUES (%s, %s, %s, %s)"
)
STATE = tempfile.mkdtemp(prefix="lotc-bench-mysql-")


class OneByOne(MysqlRoute):
    """The route with its batching turned off."""

    def batchable(self, event: int) -> bool:
        return False


def message(i: int) -> tuple[str, bytes]:
    sample = {
        "boiler": f"boiler-{i % 50}",
        "depot": "depot-n",
        "flow_temp_c": 20 + (i % 1000) / 10,
        "sampled_at": "2026-04-02 07:45:12",
    }
    return TOPIC.format(i % 50), json.dumps(sample, separators=(",", ":")).encode()


def route(kind: type[MysqlRoute], server: MariaDB) -> MysqlRoute:
    return kind(
        name="Archive",
        server=server.host,
        port=server.port,
        database=server.database,
        username=server.user,
        password=server.password,
        events=(
            SqlEvent(
                name="Keep",
                source="northwind/+/+/heating/+/clean",
                sql=SQL,
                parameters=tuple(
                    SqlParameter((f"value.json.{k}",))
                    for k in ("sampled_at", "boiler", "depot", "flow_temp_c")
                ),
            ),
        ),
    )


def rows(server: MariaDB) -> int:
    return int(server.sql("SELECT count(*) FROM boiler_samples")[0][0])


def end_to_end(broker: Mosquitto, server: MariaDB, site: Site, count: int) -> float:
    """Seconds from the site's start until ``count`` rows are in the table."""
    server.sql(SCHEMA)
    with RunningSite(site, broker.url, environ={"LOT_STATE_DIR": STATE}):
        pass  # the session subscribes, then goes offline
    publisher = broker.client()
    last = None
    for i in range(count):
        topic, payload = message(i)
        last = publisher.publish(topic, payload, qos=1)
        if i % 1000 == 999:
            last.wait_for_publish(60)
    if last is not None:
        last.wait_for_publish(60)
    publisher.disconnect()
    publisher.loop_stop()
    start = time.perf_counter()
    with RunningSite(site, broker.url, environ={"LOT_STATE_DIR": STATE}):
        while rows(server) < count:
            if time.perf_counter() - start > 600:
                raise TimeoutError(f"only {rows(server)} of {count} rows")
            time.sleep(0.05)
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    count = 5_000 if options.quick else 20_000
    load_before = os.getloadavg()
    results: dict[str, float] = {}
    with MariaDB() as server, Mosquitto(Path(STATE) / "broker") as broker:
        broker.stop()
        with open(broker.config, "a") as config:
            config.write("max_queued_messages 0\nmax_inflight_messages 0\n")
        broker.start()
        for name, kind in (("one by one", OneByOne), ("route", MysqlRoute)):
            print(f"bench/mysql: {name}...", file=sys.stderr, flush=True)
            site = Site(
                name=f"bench-{name.replace(' ', '-')}", routes=(route(kind, server),)
            )
            results[name] = end_to_end(broker, server, site, count)
            assert rows(server) == count
        version = server.sql("SELECT version()")[0][0]
    table = report(results, count, version, load_before, os.getloadavg())
    print(table)
    if not options.no_record:
        text = RESULTS.read_text()
        section = f"{BEGIN}\n{table}\n{END}"
        if BEGIN in text:
            head, rest = text.split(BEGIN, 1)
            text = head + section + rest.split(END, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        RESULTS.write_text(text)
    return 0


def report(results, count, version, load_before, load_after) -> str:
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    rate = {name: count / seconds for name, seconds in results.items()}
    lines = [
        "## MySQL/MariaDB route: rows per second (bench/mysql)",
        "",
        "Written by `python bench/mysql/run.py`; rerun it rather than edit.",
        "",
        f"- date: {dt.date.today().isoformat()}",
        f"- machine: nproc {os.cpu_count()}, Python {platform.python_version()}, "
        f"MariaDB {version} (redo log flushed once a second)",
        f"- lotc commit: {commit}",
        "- load average (1 / 5 / 15 min): "
        + " / ".join(f"{x:.2f}" for x in load_before)
        + " before, "
        + " / ".join(f"{x:.2f}" for x in load_after)
        + " after",
        "",
        "| path | messages | seconds | rows/s | µs per row |",
        "|---|---|---|---|---|",
    ]
    for name, seconds in results.items():
        lines.append(
            f"| {name} | {count:,} | {seconds:.2f} | {rate[name]:,.0f} | "
            f"{1e6 / rate[name]:.1f} |"
        )
    lines += [
        "",
        f"The route drains the same backlog {rate['route'] / rate['one by one']:.1f}x "
        "as fast as one statement per message: its waiting INSERTs go in one "
        "multi-row INSERT per spool batch (up to 256 rows), one round trip "
        "instead of one per row.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
