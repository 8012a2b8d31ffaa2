"""Text forms of the site graph: mermaid, Graphviz dot and json.

Each renderer takes the nodes and edges of a ``SiteGraph`` already sorted
(``lotc.frontend.graph.render_graph`` does that) and returns the whole text,
ending in a newline.  Nothing here depends on the order of dicts or sets, so
the same site always renders to the same bytes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lotc.frontend.graph import GraphEdge, GraphNode

# Edges that carry no delivered message are drawn dashed.
_QUIET_EDGES = frozenset({"keeps", "reads", "matches", "fills"})
# A `reads` edge points from the topic to the reader, so it is labelled from
# the topic's side.
_MERMAID_EDGE_LABELS = {"reads": "read by"}
_MERMAID_CLASSES = {
    "action": "fill:#dbeafe,stroke:#1d4ed8",
    "model": "fill:#fef3c7,stroke:#b45309",
    "route": "fill:#dcfce7,stroke:#15803d",
    "mapping": "fill:#f3e8ff,stroke:#7e22ce",
    "topic": "fill:#f1f5f9,stroke:#475569",
}
_MERMAID_SHAPES = {
    "action": ('["', '"]'),
    "model": ('[["', '"]]'),
    "route": ('[("', '")]'),
    "mapping": ('{{"', '"}}'),
    "topic": ('(["', '"])'),
}
_DOT_SHAPES = {
    "action": "box",
    "model": "box3d",
    "route": "cylinder",
    "mapping": "hexagon",
    "topic": "ellipse",
}
# Mermaid reads `#` as the start of an entity code and `"` as the end of a
# label; `/` and `+` at a label's edge turn it into a shape.  All are written
# as entity codes, which mermaid shows as the characters themselves.
_MERMAID_ESCAPES = {ch: f"#{ord(ch)};" for ch in '#"/+<>&`|'}


def mermaid(nodes: list[GraphNode], edges: list[GraphEdge]) -> str:
    ids = {node.id: f"n{number}" for number, node in enumerate(nodes)}
    lines = ["flowchart LR"]
    for node in nodes:
        opening, closing = _MERMAID_SHAPES[node.kind]
        lines.append(
            f"    {ids[node.id]}{opening}{_mermaid_label(node.label)}{closing}"
        )
    for edge in edges:
        arrow = "-.->" if edge.kind in _QUIET_EDGES else "-->"
        label = _MERMAID_EDGE_LABELS.get(edge.kind, edge.kind)
        lines.append(f"    {ids[edge.source]} {arrow}|{label}| {ids[edge.target]}")
    for kind in sorted(_MERMAID_CLASSES):
        lines.append(f"    classDef {kind} {_MERMAID_CLASSES[kind]}")
    for kind in sorted(_MERMAID_SHAPES):
        members = [ids[node.id] for node in nodes if node.kind == kind]
        if members:
            lines.append(f"    class {','.join(members)} {kind}")
    return "\n".join(lines) + "\n"


def _mermaid_label(text: str) -> str:
    return "".join(_MERMAID_ESCAPES.get(ch, ch) for ch in text)


def dot(nodes: list[GraphNode], edges: list[GraphEdge]) -> str:
    lines = ["digraph site {", "    rankdir=LR;"]
    for node in nodes:
        label, shape = _dot_quote(node.label), _DOT_SHAPES[node.kind]
        lines.append(f"    {_dot_quote(node.id)} [label={label}, shape={shape}];")
    for edge in edges:
        style = ", style=dashed" if edge.kind in _QUIET_EDGES else ""
        lines.append(
            f"    {_dot_quote(edge.source)} -> {_dot_quote(edge.target)} "
            f"[label={_dot_quote(edge.kind)}{style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def as_json(nodes: list[GraphNode], edges: list[GraphEdge]) -> str:
    document = {
        "nodes": [
            {
                "id": node.id,
                "kind": node.kind,
                "label": node.label,
                "file": node.file,
                "line": node.line,
            }
            for node in nodes
        ],
        "edges": [
            {"from": edge.source, "to": edge.target, "kind": edge.kind}
            for edge in edges
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"mermaid": mermaid, "dot": dot, "json": as_json}
