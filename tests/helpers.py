"""Small helpers for tests that parse LoT text."""

from __future__ import annotations

import textwrap

from lotc.compile import check_sources
from lotc.frontend.parser import parse_source
from lotc.frontend.source import SourceFile


def source(text: str, name: str = "test.lot") -> SourceFile:
    return SourceFile(name, textwrap.dedent(text).lstrip("\n"))


def parse(text: str):
    """Parse text; return (module, diagnostics)."""
    return parse_source(source(text))


def parse_clean(text: str):
    """Parse text that must give no diagnostics at all; return its entities."""
    module, diagnostics = parse(text)
    assert not diagnostics, [(d.code, d.span.line, d.message) for d in diagnostics]
    return module.entities


def only_entity(text: str):
    entities = parse_clean(text)
    assert len(entities) == 1
    return entities[0]


def codes(text: str) -> list[str]:
    """Every code the whole front end (parser and checker) reports for text."""
    site = check_sources([source(text)])
    return [d.code for d in site.diagnostics]


def diagnostics(text: str):
    return check_sources([source(text)]).diagnostics
