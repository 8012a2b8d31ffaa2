"""Parse-tree positions: lotc's faster propagation equals lark's own.

``lotc.frontend.positions`` replaces lark's ``propagate_positions=True``.  Every
entity of the shared corpus, the examples and the golden inputs is parsed
twice, by lotc's parser and by a stock lark parser with position propagation
on, and the two trees must agree on every token and every ``meta`` field
(including the ``container_*`` extents) of every node.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO
from lark import Lark, Token

from lotc.frontend.layout import Layout
from lotc.frontend.parser import GRAMMAR, PARSED_KINDS, lark_parser, split_entities
from lotc.frontend.source import collect_paths, read_sources

META_FIELDS = (
    "empty",
    "line",
    "column",
    "start_pos",
    "end_line",
    "end_column",
    "end_pos",
    "container_line",
    "container_column",
    "container_start_pos",
    "container_end_line",
    "container_end_column",
    "container_end_pos",
)


def _entities(folders: list[Path]) -> list[tuple[str, str]]:
    """(file name, text given to the parser) for every parsed entity."""
    found, _ = collect_paths([str(folder) for folder in folders if folder.is_dir()])
    texts = []
    for path, display in found:
        if path.suffix.lower() == ".py":
            continue
        for source in read_sources(Path(path), display)[0]:
            for chunk in split_entities(source)[0]:
                if chunk.kind in PARSED_KINDS:
                    text = "\n" * (chunk.first_line - 1) + "\n".join(chunk.lines)
                    texts.append((source.name, text))
    return texts


def _shape(node) -> tuple:
    if isinstance(node, Token):
        return (node.type, node.value, node.line, node.column, node.end_pos)
    meta = tuple(getattr(node.meta, name, None) for name in META_FIELDS)
    return (node.data, meta, tuple(_shape(child) for child in node.children))


def _parse(parser: Lark, name: str, text: str) -> tuple:
    parser.options.postlex.reset(name, text, None)
    try:
        return _shape(parser.parse(text))
    except Exception as error:  # a syntax error: both must fail alike
        return ("error", type(error).__name__, getattr(error, "line", None))


@pytest.fixture(scope="module")
def stock() -> Lark:
    return Lark(
        GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        postlex=Layout(),
        propagate_positions=True,
        maybe_placeholders=False,
    )


def test_positions_match_lark(stock, corpus):
    entities = _entities([corpus, REPO / "examples", REPO / "golden"])
    assert len(entities) > 300
    ours = lark_parser()
    for name, text in entities:
        expected = _parse(stock, name, text)
        assert _parse(ours, name, text) == expected, name
