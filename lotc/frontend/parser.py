"""Parsing: source files in, AST modules and syntax diagnostics out.

A file is first cut into entities at every ``DEFINE`` in column 0; each entity
is parsed on its own by the LALR parser, so a syntax error in one entity is
reported and the parser carries on with the next.  Text before the first
``DEFINE`` must be blank or comments.  ``PANEL``, ``THEME``, ``VISU`` and
``THING`` entities are recognised and skipped with a warning.

Afterwards: every entity that parsed is in the module, in file order, and every
problem found is a diagnostic (none is raised).  Lines and columns in spans are
those of the whole file.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import lark
from lark import Lark
from lark.exceptions import LarkError, UnexpectedInput

from lotc.frontend import ast, messages
from lotc.frontend.build_ast import Builder
from lotc.frontend.diagnostics import Diagnostic, Span
from lotc.frontend.layout import Layout
from lotc.frontend.positions import with_positions
from lotc.frontend.source import SourceFile
from lotc.frontend.syntax_errors import translate

GRAMMAR = Path(__file__).with_name("grammar.lark")
PARSED_KINDS = frozenset({"ACTION", "MODEL", "ROUTE", "RULE"})
UNSUPPORTED_KINDS = frozenset({"PANEL", "THEME", "VISU", "THING"})
_DEFINE_LINE = re.compile(r"DEFINE(?![A-Za-z0-9_])")
_NAME_AFTER_KIND = re.compile(r"DEFINE\s+(?:ACTION|MODEL|ROUTE|RULE)\s+(\S+)")
_HEADER_WORDS = frozenset({"ON", "INPUT", "DO", "RETURN", "OUTPUT", "DESCRIPTION"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@lru_cache(maxsize=2)
def lark_parser(strict: bool = False) -> Lark:
    """The LoT parser, built once per process.

    Building the LALR tables takes a third of a second, so the tables are
    kept in a cache file between runs (lark checks that it matches the grammar
    and rebuilds it when it does not); without a writable cache folder the
    parser is simply built every time.  The strict build is never cached: it
    exists to prove the grammar has no conflicts.
    """
    grammar = GRAMMAR.read_text(encoding="utf-8")
    cache = None if strict else _cache_file(grammar)
    parser = Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        postlex=Layout(),
        # Positions are set by lotc.frontend.positions, the same way but
        # faster (lark is pinned to the exact version this relies on).
        propagate_positions=False,
        maybe_placeholders=False,
        strict=strict,
        cache=cache or False,
    )
    with_positions(parser.parser.parser.parser.callbacks)
    return parser


def _cache_file(grammar: str) -> str | None:
    base = os.environ.get("LOTC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lotc"
    )
    digest = hashlib.sha256(f"{lark.__version__}\0{grammar}".encode()).hexdigest()
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        return None
    if not os.access(base, os.W_OK):
        return None
    return os.path.join(base, f"grammar-{digest[:16]}.lalr")


@dataclass(frozen=True)
class Chunk:
    """The lines of one entity: ``first_line`` is its DEFINE line (1-based)."""

    kind: str
    name: str
    first_line: int
    lines: tuple[str, ...]


def split_entities(source: SourceFile) -> tuple[list[Chunk], list[Diagnostic]]:
    lines = source.code.split("\n")
    starts = [i for i, line in enumerate(lines) if _DEFINE_LINE.match(line)]
    diagnostics = _check_preamble(source, lines, starts[0] if starts else len(lines))
    chunks = []
    for position, start in enumerate(starts):
        end = starts[position + 1] if position + 1 < len(starts) else len(lines)
        words = lines[start].split()
        kind = words[1] if len(words) > 1 else ""
        name = words[2] if len(words) > 2 else ""
        chunks.append(Chunk(kind, name, start + 1, tuple(lines[start:end])))
    return chunks, diagnostics


def _check_preamble(source: SourceFile, lines: list[str], end: int) -> list[Diagnostic]:
    for number, line in enumerate(lines[:end], start=1):
        text = line.strip()
        if not text:
            continue
        column = len(line) - len(line.lstrip()) + 1
        span = Span.point(source.name, number, column, len(text))
        if text.startswith("DEFINE"):
            return [
                messages.INDENTED_HEADER.at(
                    span, word="DEFINE", help="remove the spaces before `DEFINE`"
                )
            ]
        return [
            messages.TEXT_OUTSIDE_ENTITY.at(
                span,
                help="every LoT line belongs to an entity that starts with `DEFINE`",
            )
        ]
    return []


def parse_source(source: SourceFile) -> tuple[ast.Module, list[Diagnostic]]:
    """Parse every entity of one source file."""
    diagnostics = list(source.diagnostics)
    chunks, preamble = split_entities(source)
    diagnostics.extend(preamble)
    diagnostics.extend(_check_tabs(source))

    unclosed = [
        d.span.line
        for d in source.diagnostics
        if d.code == messages.UNTERMINATED_COMMENT.code
    ]
    layout: Layout = lark_parser().options.postlex
    unit: int | None = None
    unit_line = 0
    entities: list[ast.Entity] = []
    for chunk in chunks:
        if chunk.kind in UNSUPPORTED_KINDS:
            entities.append(_unsupported(source, chunk, diagnostics))
            continue
        entity, found = _parse_chunk(source, chunk, layout, unit)
        if unit is None and layout.unit is not None:
            unit, unit_line = layout.unit, layout.unit_line
        diagnostics.extend(layout.diagnostics)
        diagnostics.extend(_without_comment_cascade(found, chunk, unclosed))
        if entity is not None:
            entities.append(entity)

    if unit is not None and unit != 4:
        span = Span.point(source.name, unit_line, 1, unit)
        diagnostics.append(
            messages.INDENT_WIDTH.at(
                span,
                width=unit,
                help="indent each block by 4 spaces (`lotc fmt` does it)",
            )
        )
    return ast.Module(source.name, tuple(entities)), diagnostics


def _without_comment_cascade(found, chunk: Chunk, unclosed: list[int]) -> list:
    """An unterminated comment swallows the rest of the file; the missing body
    or end it leaves behind is its consequence, already reported."""
    last_line = chunk.first_line + len(chunk.lines) - 1
    if not any(chunk.first_line <= line <= last_line for line in unclosed):
        return found
    consequences = {messages.EMPTY_BODY.code, messages.UNEXPECTED_EOF.code}
    return [d for d in found if d.code not in consequences]


def _parse_chunk(
    source: SourceFile,
    chunk: Chunk,
    layout: Layout,
    unit: int | None,
    retrying: bool = False,
):
    text = "\n" * (chunk.first_line - 1) + "\n".join(chunk.lines)
    layout.reset(source.name, text, unit)
    if chunk.kind not in PARSED_KINDS:
        column = len("DEFINE ") + 1
        found = chunk.kind or "end of line"
        span = Span.point(
            source.name, chunk.first_line, column, max(len(chunk.kind), 1)
        )
        return None, [
            messages.UNEXPECTED_TOKEN.at(
                span,
                expected="`ACTION`, `MODEL`, `ROUTE` or `RULE`",
                found=f"`{found}`" if chunk.kind else found,
            )
        ]
    if (invalid := _invalid_name(source, chunk)) is not None:
        return None, [invalid]
    try:
        tree = lark_parser().parse(text)
    except UnexpectedInput as error:
        first = translate(error, source, chunk)
        return None, [
            first,
            *(
                ()
                if retrying
                else _after_indented_header(source, chunk, first, layout, unit)
            ),
        ]
    except LarkError as error:
        span = Span.point(source.name, chunk.first_line, 1)
        return None, [messages.INTERNAL_ERROR.at(span, detail=str(error))]
    builder = Builder(source.name)
    entity = builder.entity(tree.children[0])
    return entity, builder.diagnostics


def _invalid_name(source: SourceFile, chunk: Chunk) -> Diagnostic | None:
    """An entity name that is neither an identifier nor a (reported) string.

    Caught before parsing because the parser would only see the first part of
    ``Pump-1`` or ``3rdShift`` and complain about what follows.
    """
    match = _NAME_AFTER_KIND.match(chunk.lines[0])
    if match is None:
        return None
    name = match.group(1)
    if _IDENTIFIER.fullmatch(name) or name.startswith('"'):
        return None
    column = match.start(1) + 1
    suggestion = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not suggestion[0].isalpha():
        suggestion = "N" + suggestion
    return messages.ENTITY_NAME_INVALID.at(
        Span.point(source.name, chunk.first_line, column, len(name)),
        name=name,
        kind=chunk.kind.lower(),
        help=(
            "names are letters, digits and `_`, starting with a letter, "
            f"such as `{suggestion}`"
        ),
    )


def _after_indented_header(source, chunk, first, layout, unit) -> list[Diagnostic]:
    """Look for further errors in an entity whose header lines were indented.

    The entity is parsed again with the indented header moved to column 0:
    once with every line after DEFINE moved left (the body was indented under
    the header) and once with only the header lines moved (the body was where
    it belongs).  The reading with fewer problems wins, and what it finds is
    reported at the columns the user wrote.
    """
    if (
        first.code != messages.INDENTED_HEADER.code
        or first.span.line == chunk.first_line
    ):
        return []
    header_line = source.line_text(first.span.line)
    shift = len(header_line) - len(header_line.lstrip())
    # The readings are guesses: they must not change what the file's own
    # parse found about its layout.
    saved = (layout.unit, layout.unit_line, layout.diagnostics)
    readings = []
    for only_header in (False, True):
        lines, moved = [chunk.lines[0]], set()
        for offset, line in enumerate(chunk.lines[1:], start=1):
            leading = re.match(r"[A-Z]+", line.strip())
            is_header = bool(leading) and leading.group(0) in _HEADER_WORDS
            if line[:shift].strip() == "" and (is_header or not only_header):
                line = line[shift:]
                moved.add(chunk.first_line + offset)
            lines.append(line)
        retry = Chunk(chunk.kind, chunk.name, chunk.first_line, tuple(lines))
        _, found = _parse_chunk(source, retry, layout, unit, retrying=True)
        found = [
            _shifted(d, shift) if d.span.line in moved else d
            for d in found + layout.diagnostics
            if d.code not in (first.code, messages.INDENT_WIDTH.code)
        ]
        readings.append(found)
    layout.unit, layout.unit_line, layout.diagnostics = saved
    return min(readings, key=len)


def _shifted(diagnostic: Diagnostic, shift: int) -> Diagnostic:
    span = diagnostic.span
    moved = Span(
        span.file,
        span.line,
        span.column + shift,
        span.end_line,
        span.end_column + shift,
    )
    return replace(diagnostic, span=moved)


def _unsupported(
    source: SourceFile, chunk: Chunk, diagnostics: list
) -> ast.Unsupported:
    line = chunk.lines[0]
    span = Span(
        source.name, chunk.first_line, 1, chunk.first_line, len(line.rstrip()) + 1
    )
    diagnostics.append(
        messages.UNSUPPORTED_ENTITY.at(
            span,
            kind=chunk.kind,
            notes=("lotc builds actions, models, routes and rules",),
        )
    )
    return ast.Unsupported(span, chunk.kind, chunk.name.strip('"'))


def _check_tabs(source: SourceFile) -> list[Diagnostic]:
    tabbed = [
        number
        for number, line in enumerate(source.code.split("\n"), start=1)
        if "\t" in line[: len(line) - len(line.lstrip())]
    ]
    if not tabbed:
        return []
    first = tabbed[0]
    line = source.line_text(first)
    width = len(line) - len(line.lstrip())
    notes = ()
    if len(tabbed) > 1:
        notes = (f"{len(tabbed)} lines of this file are indented with tabs",)
    return [
        messages.TAB_INDENT.at(
            Span.point(source.name, first, 1, width),
            notes=notes,
            help="indent with 4 spaces per level (`lotc fmt` rewrites tabs)",
        )
    ]
