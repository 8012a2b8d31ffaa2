"""Front-end benchmark: parse + check throughput and the start-up of `lotc check`.

``python bench/frontend/run.py`` generates the synthetic site of
``generate.py`` in a temporary folder, checks that it has no diagnostics, then
measures:

- parse + check throughput in lines per second: the best (and median) of five
  in-process runs of ``lotc.compile.check`` over the folder, after one warm-up
  run that also builds the grammar; and one fresh ``lotc check`` subprocess;
- the start-up of ``lotc check`` on one small file: the median wall time of
  ten subprocess runs, and one run with an empty parser cache;
- what a start-up is made of, each in a fresh interpreter: the bare
  interpreter, the import of ``lotc.cli`` and ``lotc.compile``
  (``python -X importtime``) and getting the LALR parser with and without its
  cache file.

Wall times are the measure; CPU times are shown next to them because this
machine is shared and the load average (recorded too) moves the wall times.
The parser cache goes to a temporary folder (``LOTC_CACHE_DIR``), so a run
neither depends on nor touches the user's cache.

It prints a Markdown table and writes it into the front-end section of
``bench/RESULTS.md`` (the rest of that file is left alone); ``--no-record``
skips the file.  The whole run takes about a minute on two cores.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generate import SiteStats, generate_site

TARGET_LINES_PER_SECOND = 10_000
TARGET_STARTUP_SECONDS = 0.5
IN_PROCESS_RUNS = 5
STARTUP_RUNS = 10
IMPORT_RUNS = 5
RESULTS = Path(__file__).resolve().parent.parent / "RESULTS.md"
BEGIN = "<!-- bench/frontend: begin -->"
END = "<!-- bench/frontend: end -->"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-record", action="store_true", help="do not update bench/RESULTS.md"
    )
    parser.add_argument("--keep", type=Path, help="write the site here and keep it")
    arguments = parser.parse_args()
    started = time.perf_counter()
    load_before = _load_average()

    with tempfile.TemporaryDirectory(prefix="lotc-bench-") as scratch:
        scratch = Path(scratch)
        os.environ["LOTC_CACHE_DIR"] = str(scratch / "cache")
        site = arguments.keep or scratch / "site"
        stats = generate_site(site)
        small = next(_small_site(scratch / "small").rglob("*.lot"))
        print(
            f"site: {stats.files} files, {stats.lines:,} lines, "
            f"{sum(stats.entities.values()):,} entities in {site}",
            file=sys.stderr,
        )

        first = _verify(site)
        if first is None:
            return 1
        rows = [("site", _describe(stats), "")]
        rows += _throughput(site, stats, first)
        rows += _startup(small, scratch)
        rows += _startup_parts(scratch)

    load = f"{load_before} before, {_load_average()} after"
    table = _table(rows)
    print(table)
    print(f"\n`lotc` is {' '.join(_lotc())}", file=sys.stderr)
    print(f"\nload average {load}", file=sys.stderr)
    print(f"benchmark took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if not arguments.no_record:
        _record(table, load)
        print(f"recorded in {RESULTS}", file=sys.stderr)
    return 0


def _small_site(folder: Path) -> Path:
    # Seed 7 gives a model, two actions and a route with no CALL PYTHON, so the
    # file checks cleanly on its own, without the site's scripts.
    generate_site(folder, entities=4, files=1, seed=7)
    return folder


def _verify(site: Path) -> float | None:
    """Check the site once (the warm-up run); None if it has any diagnostic."""
    from lotc.compile import check
    from lotc.frontend.render import render_short

    started = time.perf_counter()
    result = check([str(site)])
    elapsed = time.perf_counter() - started

    if not result.diagnostics:
        return elapsed
    for diagnostic in result.diagnostics[:10]:
        print(render_short(diagnostic), file=sys.stderr)
    print(
        f"the generated site has {len(result.diagnostics)} diagnostics; "
        "it should have none",
        file=sys.stderr,
    )
    return None


def _throughput(site: Path, stats: SiteStats, first: float) -> list[tuple]:
    from lotc.compile import check

    runs = []
    for _ in range(IN_PROCESS_RUNS):
        wall, cpu = time.perf_counter(), time.process_time()
        check([str(site)])
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    best, median = min(runs), _middle(runs)
    fresh = _wall([*_lotc(), "check", str(site)])

    met = stats.lines / best[0] >= TARGET_LINES_PER_SECOND
    return [
        (
            f"parse + check in process, best of {IN_PROCESS_RUNS}",
            _rate(stats.lines, *best),
            _verdict(met, "≥ 10,000 lines/s"),
        ),
        (
            f"parse + check in process, median of {IN_PROCESS_RUNS}",
            _rate(stats.lines, *median),
            "",
        ),
        ("first in-process run (also builds the parser)", _seconds(first), ""),
        ("`lotc check SITE`, one fresh process", _rate(stats.lines, *fresh), ""),
    ]


def _startup(small: Path, scratch: Path) -> list[tuple]:
    lines = small.read_text(encoding="utf-8").count("\n")
    command = [*_lotc(), "check", str(small)]
    empty = {"LOTC_CACHE_DIR": str(scratch / "empty-cache")}
    no_cache = _wall(command, env=empty)
    median = _middle([_wall(command) for _ in range(STARTUP_RUNS)])
    # The `lotc` on PATH may be a launcher (a pyenv shim is a bash script that
    # runs pyenv first); `python -m` shows the start-up without it.
    module = [sys.executable, "-m", "lotc.cli", "check", str(small)]
    direct = _middle([_wall(module) for _ in range(STARTUP_RUNS)])

    return [
        (
            f"`lotc check` on one {lines}-line file, median of {STARTUP_RUNS}",
            _pair(*median),
            _verdict(median[0] < TARGET_STARTUP_SECONDS, "< 0.5 s"),
        ),
        (
            f"`python -m lotc.cli check`, same file, median of {STARTUP_RUNS}",
            _pair(*direct),
            "",
        ),
        (
            "`lotc check`, same file, first run with an empty parser cache",
            _pair(*no_cache),
            "",
        ),
    ]


def _startup_parts(scratch: Path) -> list[tuple]:
    """What a start-up is made of, each measured in fresh interpreters."""
    bare = _middle([_wall([sys.executable, "-c", "pass"]) for _ in range(STARTUP_RUNS)])
    rows = [(f"`python -c pass`, median of {STARTUP_RUNS}", _pair(*bare), "")]

    for name in ("lotc.cli", "lotc.compile"):
        seconds = statistics.median(_import_time(name) for _ in range(IMPORT_RUNS))
        measure = f"import `{name}` (`-X importtime`, median of {IMPORT_RUNS})"
        rows.append((measure, _seconds(seconds), ""))

    empty = {"LOTC_CACHE_DIR": str(scratch / "empty-cache")}
    return rows + [
        ("get the LALR parser, cache file present", _seconds(_parser_time({})), ""),
        ("get the LALR parser, no cache file", _seconds(_parser_time(empty)), ""),
    ]


def _parser_time(env: dict[str, str]) -> float:
    """Median seconds of ``lark_parser()`` in three fresh interpreters."""
    code = (
        "import time; from lotc.frontend.parser import lark_parser; "
        "t = time.perf_counter(); lark_parser(); print(time.perf_counter() - t)"
    )
    times = []
    for _ in range(3):
        if "LOTC_CACHE_DIR" in env:
            shutil.rmtree(env["LOTC_CACHE_DIR"], ignore_errors=True)
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env},
        )
        times.append(float(done.stdout))
    return statistics.median(times)


def _import_time(module: str) -> float:
    """Cumulative import time of ``module`` in seconds, from ``-X importtime``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in done.stderr.splitlines():
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1e6
    raise RuntimeError(f"no import time reported for {module}")


def _lotc() -> list[str]:
    found = shutil.which("lotc")
    return [found] if found else [sys.executable, "-m", "lotc.cli"]


def _wall(command: list[str], env: dict[str, str] | None = None) -> tuple:
    """Wall and CPU seconds of one run of ``command``, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)

    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _middle(runs: list[tuple]) -> tuple:
    """The median run by wall time (the upper one of an even count)."""
    return sorted(runs)[len(runs) // 2]


def _describe(stats: SiteStats) -> str:
    kinds = ", ".join(f"{count:,} {kind}s" for kind, count in stats.entities.items())
    return (
        f"{stats.files} LoT files, {stats.lines:,} lines, {kinds} "
        f"(and {stats.scripts} Python scripts)"
    )


def _rate(lines: int, wall: float, cpu: float) -> str:
    return f"{lines / wall:,.0f} lines/s ({wall:.2f} s wall, {cpu:.2f} s CPU)"


def _pair(wall: float, cpu: float) -> str:
    return f"{wall:.3f} s wall ({cpu:.3f} s CPU)"


def _seconds(seconds: float) -> str:
    return f"{seconds:.3f} s"


def _verdict(met: bool, target: str) -> str:
    return f"{target}: {'met' if met else '**missed**'}"


def _table(rows: list[tuple]) -> str:
    lines = ["| measure | result | target |", "|---|---|---|"]
    lines += [
        f"| {measure} | {result} | {target} |" for measure, result, target in rows
    ]
    return "\n".join(lines)


def _load_average() -> str:
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0))
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("lark", "lotc")
    )
    return f"nproc {cores}, {cpu}, Python {platform.python_version()}, {versions}"


def _commit() -> str:
    root = Path(__file__).resolve().parent.parent.parent
    git = ["git", "-C", str(root)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "lotc"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head} (with local changes to lotc/)" if dirty else head or "unknown"


def _record(table: str, load: str) -> None:
    section = "\n".join(
        [
            BEGIN,
            "## Front end: parse + check",
            "",
            "Written by `python bench/frontend/run.py`; rerun it rather than edit.",
            "",
            f"- date: {datetime.date.today().isoformat()}",
            f"- machine: {_machine()}",
            f"- lotc commit: {_commit()}",
            f"- load average (1 / 5 / 15 min): {load}",
            "",
            table,
            END,
        ]
    )
    if RESULTS.exists():
        text = RESULTS.read_text(encoding="utf-8")
    else:
        text = "# Benchmark results\n"
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
