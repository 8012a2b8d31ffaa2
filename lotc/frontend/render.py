"""Rendering diagnostics: the rustc layout for people, one line or JSON for tools.

``human`` shows the code, the message, ``--> file:line:col``, the source line
with carets under the span, labels, and ``= note:`` / ``= help:`` lines; colour
only when asked for (the CLI asks when writing to a terminal and ``NO_COLOR``
is unset).  ``short`` is exactly ``PATH:LINE:COL: SEVERITY[CODE]: MESSAGE``.
``json`` is ``{"diagnostics": [...]}`` with 1-based lines and columns.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from lotc.frontend.diagnostics import Diagnostic, Severity, Span

_COLOURS = {
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.NOTE: "\x1b[1;36m",
}
_BOLD, _BLUE, _RESET = "\x1b[1m", "\x1b[1;34m", "\x1b[0m"

LineLookup = Callable[[str, int], str]
# Diagnostics about a file as a whole (it cannot be read): no source to show.
WHOLE_FILE_CODES = frozenset({"LOT900", "LOT901"})


def render_short(diagnostic: Diagnostic) -> str:
    span = diagnostic.span
    return (
        f"{span.file}:{span.line}:{span.column}: "
        f"{diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}"
    )


def render_json(diagnostics: list[Diagnostic]) -> str:
    items = [
        {
            "severity": d.severity.value,
            "code": d.code,
            "slug": d.slug,
            "message": d.message,
            "file": d.span.file,
            "line": d.span.line,
            "column": d.span.column,
            "end_line": d.span.end_line,
            "end_column": d.span.end_column,
            "notes": list(d.notes),
            "help": d.help,
        }
        for d in diagnostics
    ]
    return json.dumps({"diagnostics": items}, indent=2, ensure_ascii=False)


def render_human(
    diagnostic: Diagnostic, line_of: LineLookup, colour: bool = False
) -> str:
    """The rustc layout.  The primary span and the labels in the same file
    share one snippet, in line order, with `...` between distant lines."""
    paint = _painter(colour)
    severity = diagnostic.severity
    span = diagnostic.span
    marks = [_Mark(span, "^", None, _COLOURS[severity])] + [
        _Mark(label.span, "-", label.message, _BLUE) for label in diagnostic.labels
    ]
    width = len(str(max(mark.span.line for mark in marks)))
    pad, bar = " " * width, paint("|", _BLUE)
    out = [
        paint(f"{severity.value}[{diagnostic.code}]", _COLOURS[severity])
        + paint(f": {diagnostic.message}", _BOLD),
        f"{pad}{paint('-->', _BLUE)} {span.file}:{span.line}:{span.column}",
        f"{pad} {bar}",
    ]
    here = [mark for mark in marks if mark.span.file == span.file]
    if diagnostic.code not in WHOLE_FILE_CODES:
        out.extend(_snippet(here, line_of, width, paint))
    for mark in marks:
        if mark.span.file != span.file:
            where = f"{mark.span.file}:{mark.span.line}:{mark.span.column}"
            out.append(f"{pad}{paint(':::', _BLUE)} {where}")
            out.extend(_snippet([mark], line_of, width, paint))
    if diagnostic.notes or diagnostic.help:
        out.append(f"{pad} {bar}")
    for note in diagnostic.notes:
        out.append(f"{pad} {paint('=', _BLUE)} {paint('note', _BOLD)}: {note}")
    if diagnostic.help:
        out.append(
            f"{pad} {paint('=', _BLUE)} {paint('help', _BOLD)}: {diagnostic.help}"
        )
    return "\n".join(out)


@dataclass(frozen=True)
class _Mark:
    span: Span
    symbol: str
    message: str | None
    colour: str


def _snippet(marks: list[_Mark], line_of, width: int, paint) -> list[str]:
    out: list[str] = []
    bar = paint("|", _BLUE)
    previous = None
    for line in sorted({mark.span.line for mark in marks}):
        if previous is not None and line > previous + 1:
            out.append(paint("...", _BLUE))
        previous = line
        text = line_of(marks[0].span.file, line).rstrip("\n").expandtabs(4)
        out.append(f"{paint(str(line).rjust(width), _BLUE)} {bar} {text}".rstrip())
        for mark in (m for m in marks if m.span.line == line):
            start = max(mark.span.column, 1)
            if mark.span.end_line == line:
                length = max(mark.span.end_column - mark.span.column, 1)
            else:
                length = max(len(text) - start + 1, 1)
            underline = " " * (start - 1) + mark.symbol * length
            if mark.message:
                underline += " " + mark.message
            out.append(f"{' ' * width} {bar} {paint(underline, mark.colour)}")
    return out


def _painter(colour: bool):
    if not colour:
        return lambda text, style: text
    return lambda text, style: f"{style}{text}{_RESET}"


def summary(diagnostics: list[Diagnostic]) -> str | None:
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diagnostics if d.severity is Severity.WARNING)
    if not errors and not warnings:
        return None
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return " and ".join(parts)
