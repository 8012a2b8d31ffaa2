"""The data-path benchmark's report: medians, same-round ratios, targets, plot.

`write_report` replaces the marked section of bench/RESULTS.md and draws
bench/runtime/results.png. Run alone, it reports build/bench-runtime/
results.jsonl again (`python bench/runtime/report.py`; `--record` also adds
that run to the history).

The ratios to Node-RED depend on the machine more than on anything else:
the broker is single-threaded and its CPU per message differs twofold
between the machines of this kind.  So each full run also appends one line
to bench/runtime/history.jsonl (date, commit, CPU, the same-round ratios,
which targets held), and the section shows every run recorded there.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "RESULTS.md"
PLOT = HERE / "results.png"
HISTORY = HERE / "history.jsonl"
BEGIN, END = "<!-- bench/runtime: begin -->", "<!-- bench/runtime: end -->"
LABELS = {
    "site": "lotc site",
    "aiomqtt": "aiomqtt 2.5",
    "nodered": "Node-RED 4",
    "c": "C reference",
}

Row = dict[str, Any]


def _median(rows: list[Row], key: str) -> float:
    return statistics.median(float(r[key]) for r in rows) if rows else float("nan")


def _rows(results: list[Row], tag: str, subject: str) -> list[Row]:
    return [r for r in results if r["tag"] == tag and r["subject"] == subject]


def _ratios(
    results: list[Row], tag: str, key: str, subject: str = "site"
) -> list[float]:
    """subject / Node-RED per round: each ratio compares runs of one stretch."""
    out = []
    for round_ in sorted({r["round"] for r in results}):
        pair = {
            r["subject"]: float(r[key])
            for r in results
            if r["tag"] == tag and r["round"] == round_
        }
        if subject in pair and pair.get("nodered"):
            out.append(pair[subject] / pair["nodered"])
    return out


def _fmt_ratios(values: list[float]) -> str:
    if not values:
        return "-"
    spread = ", ".join(f"{v:.2f}" for v in values)
    return f"**{statistics.median(values):.2f}** ({spread})"


def _cores(rows: list[Row]) -> float:
    """The broker's cores in use: its CPU per message times the rate."""
    return _median(rows, "broker_cpu_us_per_msg") * _median(rows, "msg_per_s") / 1e6


def _table(results: list[Row], subjects: Sequence[str]) -> list[str]:
    lines = [
        "| subject | QoS 0 msg/s | CPU µs/msg | broker µs/msg (cores) | peak RSS MB "
        "| QoS 1 msg/s | CPU µs/msg | broker µs/msg (cores) | peak RSS MB "
        "| idle RSS MB | p50 / p99 ms @1k/s | same, broker nodelay | lost |",
        "|---" * 13 + "|",
    ]
    for s in subjects:
        q0, q1 = _rows(results, "flood_qos0", s), _rows(results, "flood_qos1", s)
        paced = _rows(results, "paced_1000", s)
        fast = _rows(results, "paced_1000_nodelay", s)
        lost = sum(int(r["lost"]) for r in results if r["subject"] == s)
        runs = sum(1 for r in results if r["subject"] == s)
        lines.append(
            f"| {LABELS.get(s, s)} "
            f"| {_median(q0, 'msg_per_s'):,.0f} | {_median(q0, 'cpu_us_per_msg'):.1f} "
            f"| {_median(q0, 'broker_cpu_us_per_msg'):.1f} "
            f"({_cores(q0):.2f}) "
            f"| {_median(q0, 'peak_rss_mb'):.0f} "
            f"| {_median(q1, 'msg_per_s'):,.0f} | {_median(q1, 'cpu_us_per_msg'):.1f} "
            f"| {_median(q1, 'broker_cpu_us_per_msg'):.1f} "
            f"({_cores(q1):.2f}) "
            f"| {_median(q1, 'peak_rss_mb'):.0f} "
            f"| {_median(q0 + q1 + paced, 'idle_rss_mb'):.0f} "
            f"| {_median(paced, 'p50_ms'):.2f} / {_median(paced, 'p99_ms'):.2f} "
            f"| {_median(fast, 'p50_ms'):.2f} / {_median(fast, 'p99_ms'):.2f} "
            f"| {lost} of {runs} runs |"
        )
    return lines


def _median_ratio(
    results: list[Row], tag: str, key: str, subject: str = "site"
) -> float:
    values = _ratios(results, tag, key, subject)
    return statistics.median(values) if values else float("nan")


def _checks(results: list[Row]) -> list[tuple[str, bool, str]]:
    """The issue's targets: (name, held, the figure that decided it)."""
    q0 = _median_ratio(results, "flood_qos0", "msg_per_s")
    q0cpu = _median_ratio(results, "flood_qos0", "cpu_us_per_msg")
    q1 = _median_ratio(results, "flood_qos1", "msg_per_s")
    q1cpu = _median_ratio(results, "flood_qos1", "cpu_us_per_msg")
    rss_ratios = _ratios(results, "flood_qos0", "peak_rss_mb")
    rss_ratios += _ratios(results, "flood_qos1", "peak_rss_mb")
    rss = statistics.median(rss_ratios) if rss_ratios else float("nan")
    site_rss = max(
        (float(r["peak_rss_mb"]) for r in results if r["subject"] == "site"),
        default=float("nan"),
    )
    idle = max(
        (float(r["idle_rss_mb"]) for r in results if r["subject"] == "site"),
        default=float("nan"),
    )
    p50 = _median_ratio(results, "paced_1000_nodelay", "p50_ms")
    lost = sum(int(r["lost"]) for r in results)
    return [
        ("nothing lost (every subject, every run)", lost == 0, f"{lost} lost"),
        ("QoS 0: site ≥ 2x Node-RED's msg/s", q0 >= 2, f"{q0:.2f}x"),
        ("QoS 0: site CPU/msg ≤ 40 % of Node-RED's", q0cpu <= 0.4, f"{q0cpu:.0%}"),
        ("QoS 1: site ≥ 1.4x Node-RED's msg/s", q1 >= 1.4, f"{q1:.2f}x"),
        ("QoS 1: site CPU/msg ≤ 60 % of Node-RED's", q1cpu <= 0.6, f"{q1cpu:.0%}"),
        ("peak RSS draining ≤ 1/5 of Node-RED's", rss <= 0.2, f"{rss:.2f}"),
        (
            "site memory bounded: highest peak RSS of any flood run",
            site_rss < 100,
            f"{site_rss:.0f} MB",
        ),
        ("idle site < 40 MB RSS", idle < 40, f"{idle:.0f} MB at most"),
        (
            "p50 latency @1k/s ≤ 1/3 of Node-RED's (broker set_tcp_nodelay)",
            p50 <= 1 / 3,
            f"{p50:.2f}",
        ),
    ]


def _targets(results: list[Row]) -> list[str]:
    checks = _checks(results)
    p50_default = _median_ratio(results, "paced_1000", "p50_ms")
    lines = ["| target (issue 8) | held | site / Node-RED, median of rounds |"]
    lines.append("|---|---|---|")
    for name, ok, figure in checks:
        lines.append(f"| {name} | {'yes' if ok else '**no**'} | {figure} |")
    # The issue runs its latency measurements against a broker with
    # set_tcp_nodelay; under the broker's default Nagle every two-hop
    # subject, the C reference included, waits about nine message intervals
    # in the broker (../shared/bench-harness/RESULTS.md), so that figure is
    # shown but is not a target.
    lines.append(
        "| (for information) p50 @1k/s with the broker's default Nagle, "
        "where the broker sets every subject's latency | – | "
        f"{p50_default:.2f} |"
    )
    return lines


def summary(results: list[Row], versions: dict[str, str]) -> Row:
    """One run in a line of the history: where, what, and how it compared."""
    ratios = {
        f"{name}_{what}": round(_median_ratio(results, tag, key, subject), 3)
        for name, tag in (("qos0", "flood_qos0"), ("qos1", "flood_qos1"))
        for what, key, subject in (
            ("rate", "msg_per_s", "site"),
            ("cpu", "cpu_us_per_msg", "site"),
            ("c_rate", "msg_per_s", "c"),
        )
    }
    checks = _checks(results)
    return {
        "date": versions.get("date", ""),
        "commit": versions.get("lotc commit", ""),
        "cpu": versions.get("cpu", ""),
        **ratios,
        "held": sum(ok for _, ok, _ in checks),
        "targets": len(checks),
        "missed": [name for name, ok, _ in checks if not ok],
    }


def _history() -> list[Row]:
    if not HISTORY.exists():
        return []
    return [json.loads(line) for line in HISTORY.read_text().splitlines() if line]


def _history_table(runs: list[Row]) -> list[str]:
    lines = [
        "Every full run, oldest first (bench/runtime/history.jsonl): site / "
        "Node-RED and, for scale, C reference / Node-RED, medians of rounds.",
        "",
        "| date | commit | cpu | QoS 0 msg/s | QoS 0 CPU | QoS 1 msg/s | QoS 1 CPU "
        "| C: QoS 0 / QoS 1 msg/s | targets held |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        missed = "; missed: " + ", ".join(run["missed"]) if run["missed"] else ""
        lines.append(
            f"| {run['date']} | {run['commit']} | {run['cpu']} "
            f"| {run['qos0_rate']:.2f}x | {run['qos0_cpu']:.0%} "
            f"| {run['qos1_rate']:.2f}x | {run['qos1_cpu']:.0%} "
            f"| {run['qos0_c_rate']:.2f}x / {run['qos1_c_rate']:.2f}x "
            f"| {run['held']} of {run['targets']}{missed} |"
        )
    return lines


def section(
    results: list[Row], versions: dict[str, str], rounds: int, subjects: Sequence[str]
) -> str:
    lines = [
        BEGIN,
        "## Data path: lotc site vs aiomqtt vs Node-RED (bench/runtime)",
        "",
        "Written by `.venv/bin/python bench/runtime/run.py` (do not edit by hand:",
        "the next run replaces this section). The workload is the harness's",
        "(`../shared/bench-harness`): 100 device topics, payload a float (the send",
        "time), each subject publishes one JSON sample per message; the C load",
        "generator and sink, one Mosquitto started by the benchmark with",
        "`max_queued_messages 0`. Floods: 200,000 messages at QoS 0 and 100,000 at",
        "QoS 1, all queued in the broker and drained by the subject (peak RSS is",
        "VmHWM while draining). Latency: 10 s paced at 1,000 msg/s at QoS 0, with",
        "the broker's default Nagle and with `set_tcp_nodelay true`. Medians of",
        f"{rounds} interleaved rounds (every subject once per round); ratios are",
        "per round (site / Node-RED), median first and each round in brackets.",
        "",
        *_table(results, subjects),
        "",
        "Ratios from the same rounds:",
        "",
        "| site / Node-RED | per round |",
        "|---|---|",
    ]
    for name, tag, key in (
        ("QoS 0 msg/s", "flood_qos0", "msg_per_s"),
        ("QoS 0 CPU µs/msg", "flood_qos0", "cpu_us_per_msg"),
        ("QoS 1 msg/s", "flood_qos1", "msg_per_s"),
        ("QoS 1 CPU µs/msg", "flood_qos1", "cpu_us_per_msg"),
        ("QoS 0 peak RSS", "flood_qos0", "peak_rss_mb"),
        ("QoS 1 peak RSS", "flood_qos1", "peak_rss_mb"),
        ("p50 @1k/s, broker default", "paced_1000", "p50_ms"),
        ("p50 @1k/s, broker nodelay", "paced_1000_nodelay", "p50_ms"),
    ):
        lines.append(f"| {name} | {_fmt_ratios(_ratios(results, tag, key))} |")
    if any(r["subject"] == "c" for r in results):
        lines += [
            "",
            "The C reference (the harness's transform on raw sockets, MQTT 3.1.1)",
            "is the fastest any service that republishes gets through this one",
            "single-threaded broker on this machine: C / Node-RED msg/s",
        ]
        for name, tag in (("QoS 0", "flood_qos0"), ("QoS 1", "flood_qos1")):
            ratios = _ratios(results, tag, "msg_per_s", "c")
            lines.append(f"{name} {_fmt_ratios(ratios)};")
        lines[-1] = lines[-1].rstrip(";") + "."
    lines += ["", *_targets(results), ""]
    runs = _history()
    if runs:
        lines += [*_history_table(runs), ""]
    lines += ["Machine and versions:", ""]
    lines += [f"- {key}: {value}" for key, value in versions.items()]
    lines += [
        "",
        "![throughput and RSS per subject](runtime/results.png)",
        END,
    ]
    return "\n".join(lines) + "\n"


def plot(results: list[Row], subjects: Sequence[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (rate, cpu, memory) = plt.subplots(1, 3, figsize=(15, 4.5))
    names = [LABELS.get(s, s) for s in subjects]
    width = 0.38
    for offset, tag, label in ((-width / 2, "flood_qos0", "QoS 0"),
                               (width / 2, "flood_qos1", "QoS 1")):  # fmt: skip
        xs = [i + offset for i in range(len(subjects))]
        rate.bar(
            xs,
            [_median(_rows(results, tag, s), "msg_per_s") for s in subjects],
            width,
            label=label,
        )
        cpu.bar(
            xs,
            [_median(_rows(results, tag, s), "cpu_us_per_msg") for s in subjects],
            width,
            label=label,
        )
    for axes, title in ((rate, "throughput, msg/s (flood)"),
                        (cpu, "CPU µs per message (flood)")):  # fmt: skip
        axes.set_xticks(range(len(subjects)), names, fontsize=9)
        axes.set_title(title)
        axes.legend()
    for s in subjects:
        runs = _rows(results, "flood_qos0", s)
        if runs:
            curve = runs[0]["rss_curve_mb"]
            memory.plot([t for t, _ in curve], [m for _, m in curve], label=s)
    memory.set_title("RSS while draining the QoS 0 flood, MB (round 1)")
    memory.set_xlabel("seconds")
    memory.legend()
    figure.tight_layout()
    figure.savefig(PLOT, dpi=90)


def write_report(
    results: list[Row],
    versions: dict[str, str],
    rounds: int,
    subjects: Sequence[str],
    *,
    record: bool = False,
) -> None:
    """Write the section and the plot; with `record`, first add this run to
    the history (full runs only: a smoke run's ratios mean little)."""
    if record:
        with open(HISTORY, "a") as history:
            history.write(json.dumps(summary(results, versions)) + "\n")
    text = section(results, versions, rounds, subjects)
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        new = head + text + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(new)
    (HERE.parent.parent / "build" / "bench-runtime" / "versions.json").write_text(
        json.dumps({"versions": versions, "rounds": rounds, "subjects": subjects})
    )
    plot(results, subjects)
    print(text)


if __name__ == "__main__":
    build = HERE.parent.parent / "build" / "bench-runtime"
    saved = json.loads((build / "versions.json").read_text())
    rows = [json.loads(line) for line in (build / "results.jsonl").open()]
    write_report(
        rows,
        saved["versions"],
        saved["rounds"],
        saved["subjects"],
        record="--record" in sys.argv[1:],
    )
