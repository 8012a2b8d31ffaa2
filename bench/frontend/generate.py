"""A synthetic LoT site for the front-end benchmark: deterministic, realistic, valid.

``generate_site(folder)`` writes 2,000 entities over 40 files, one file per area
of four plants: about half actions (``ON TOPIC`` and ``ON EVERY``), a quarter
``COLLAPSED`` models, a fifth routes (PostgreSQL, Modbus TCP and MQTT bridges)
and the rest broker rules.  The statements and expressions are the kinds the
corpus uses.  Every ``PUBLISH MODEL`` names a model of the same file and sets
its fields with values of their types, and every ``CALL PYTHON`` a function of
one of the site's Python scripts (``scripts/*.py``, ``# Script Name:``
headers), so the site stays valid as the checker learns more.

The same arguments always give the same bytes: all choices come from one
seeded ``random.Random`` and nothing depends on the hash seed or the clock.

Run it on its own to keep a site: ``python bench/frontend/generate.py DIR``.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from pathlib import Path

from lot_snippets import (
    ActionWriter,
    Model,
    analytics_script,
    route_lines,
    rule_lines,
)

PLANTS = ("northwind", "eastfield", "harbour", "ridgeway")
DEVICE_KINDS = (
    "pump",
    "boiler",
    "chiller",
    "compressor",
    "conveyor",
    "press",
    "oven",
    "mixer",
    "fan",
    "tank",
)
METRICS = ("temperature", "pressure", "flow", "vibration", "current", "speed", "level")
MIX = {"action": 0.50, "model": 0.25, "route": 0.20, "rule": 0.05}


@dataclass(frozen=True)
class SiteStats:
    files: int
    lines: int  # of LoT; the Python scripts are not counted
    scripts: int
    bytes: int
    entities: dict[str, int]


def generate_site(
    folder: Path, entities: int = 2000, files: int = 40, seed: int = 2026
) -> SiteStats:
    """Write the site into ``folder`` (created if missing) and describe it."""
    rng = random.Random(seed)
    per_plant = -(-files // len(PLANTS))
    areas = [f"area{number:02d}" for number in range(1, per_plant + 1)]
    places = [(plant, area) for plant in PLANTS for area in areas][:files]
    quotas = {
        kind: _spread(round(entities * share), files) for kind, share in MIX.items()
    }
    quotas["action"] = _spread(
        entities - sum(sum(q) for k, q in quotas.items() if k != "action"), files
    )

    total_lines = total_bytes = 0
    for index, (plant, area) in enumerate(places):
        counts = {kind: quotas[kind][index] for kind in MIX}
        text = _file_text(rng, plant, area, index, counts)
        path = folder / plant / f"{area}.lot"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        total_lines += text.count("\n")
        total_bytes += len(text.encode("utf-8"))

    for kind in DEVICE_KINDS:
        script = folder / "scripts" / f"{kind}_analytics.py"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(analytics_script(kind, METRICS), encoding="utf-8")

    totals = {kind: sum(quotas[kind]) for kind in MIX}
    return SiteStats(len(places), total_lines, len(DEVICE_KINDS), total_bytes, totals)


def _spread(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal whole numbers, larger ones first."""
    share, extra = divmod(total, parts)
    return [share + (1 if part < extra else 0) for part in range(parts)]


def _file_text(rng: random.Random, plant: str, area: str, index: int, counts) -> str:
    tag = f"{index:02d}"
    models = [_model(rng, tag, number) for number in range(counts["model"])]
    blocks = [
        [f"// {plant} / {area}: models, actions, routes and access rules"],
        *(model.lines() for model in models),
    ]

    for number in range(counts["action"]):
        writer = ActionWriter(rng, plant, area, models)
        kind = rng.choice(DEVICE_KINDS)
        metric = rng.choice(METRICS)
        name = f"{_camel(kind)}{_camel(metric)}{tag}{number:02d}"
        if rng.random() < 0.65:
            blocks.append(writer.topic_action(name, kind, metric))
        else:
            blocks.append(writer.timer_action(name, kind, metric))

    for number in range(counts["route"]):
        blocks.append(route_lines(rng, plant, area, f"{tag}{number:02d}", number))
    for number in range(counts["rule"]):
        blocks.append(rule_lines(rng, plant, area, f"{tag}{number:02d}"))

    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


def _model(rng: random.Random, tag: str, number: int) -> Model:
    kind = rng.choice(DEVICE_KINDS)
    purpose = rng.choice(("Sample", "Reading", "Summary", "Status", "Record"))
    fields = [("STRING", "device"), ("STRING", "area")]
    metrics = rng.sample(METRICS, rng.randint(1, 5))
    fields += [("DOUBLE", metric) for metric in metrics]
    optional = [("BOOL", "running"), ("INT", "cycle_count"), ("STRING", "status")]
    fields += rng.sample(optional, rng.randint(0, 2))
    fields.append(("STRING", "sampled_at"))
    return Model(f"{_camel(kind)}{purpose}{tag}{number:02d}", tuple(fields[:10]))


def _camel(word: str) -> str:
    return word[:1].upper() + word[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--entities", type=int, default=2000)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2026)
    arguments = parser.parse_args()
    stats = generate_site(
        arguments.folder, arguments.entities, arguments.files, arguments.seed
    )
    print(
        f"{stats.files} files, {stats.lines} lines, {stats.bytes} bytes, "
        f"{stats.scripts} Python scripts, "
        + ", ".join(f"{count} {kind}s" for kind, count in stats.entities.items())
    )


if __name__ == "__main__":
    main()
