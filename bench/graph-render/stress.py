#!/usr/bin/env python3
"""Write stress.mmd: graph_render.mermaid() on labels full of Mermaid syntax.

Usage: python bench/graph-render/stress.py OUT_DIR   (then render.py OUT_DIR/stress.mmd)
Also writes stress.expected.json (the labels Mermaid should display).
"""

import json
import sys
from pathlib import Path

from lotc.frontend.graph import GraphEdge, GraphNode
from lotc.frontend.graph_render import mermaid

LABELS = [
    ("action", "Plain"),
    ("topic", "/leading/slash"),
    ("topic", "trailing/slash/"),
    ("topic", "+/+/x"),
    ("topic", "#"),
    ("topic", "a/#"),
    ("topic", 'quote"inside'),
    ("topic", "lt<b>gt</b>&amp"),
    ("topic", "pipe|and`tick`"),
    ("topic", "semi;colon%%pct"),
    ("topic", "literal #35; entity"),
    ("topic", "#quot; named"),
    ("topic", "unicodé/Ωmega"),
    ("route", "end"),
    ("mapping", "R.m (x) [y] {z}"),
    ("model", "style"),
    ("topic", "a <script>alert(1)</script>"),
    ("topic", "x @ env HOST"),
]


def main() -> None:
    out = Path(sys.argv[1])
    nodes = [
        GraphNode(id=f"{k}:{i}", kind=k, label=text)
        for i, (k, text) in enumerate(LABELS)
    ]
    edges = [GraphEdge(nodes[0].id, n.id, "publishes") for n in nodes[1:]]
    (out / "stress.mmd").write_text(mermaid(nodes, edges))
    (out / "stress.expected.json").write_text(json.dumps([text for _, text in LABELS]))


if __name__ == "__main__":
    main()
