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

from lotc.frontend.diagnostics import Diagnostic, Severity, Span

_COLOURS = {
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.NOTE: "\x1b[1;36m",
}
_BOLD, _BLUE, _RESET = "\x1b[1m", "\x1b[1;34m", "\x1b[0m"

LineLookup = Callable[[str, int], str]


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
    paint = _painter(colour)
    severity = diagnostic.severity
    span = diagnostic.span
    gutter_width = len(
        str(max([span.line] + [label.span.line for label in diagnostic.labels]))
    )
    pad = " " * gutter_width
    out = [
        paint(f"{severity.value}[{diagnostic.code}]", _COLOURS[severity])
        + paint(f": {diagnostic.message}", _BOLD),
        f"{pad}{paint('-->', _BLUE)} {span.file}:{span.line}:{span.column}",
        f"{pad} {paint('|', _BLUE)}",
    ]
    out.extend(
        _snippet(span, "^", None, line_of, gutter_width, paint, _COLOURS[severity])
    )
    for label in diagnostic.labels:
        if label.span.file != span.file:
            out.append(
                f"{pad}{paint('::', _BLUE)} "
                f"{label.span.file}:{label.span.line}:{label.span.column}"
            )
        out.extend(
            _snippet(
                label.span, "-", label.message, line_of, gutter_width, paint, _BLUE
            )
        )
    if diagnostic.notes or diagnostic.help:
        out.append(f"{pad} {paint('|', _BLUE)}")
    for note in diagnostic.notes:
        out.append(f"{pad} {paint('=', _BLUE)} {paint('note', _BOLD)}: {note}")
    if diagnostic.help:
        out.append(
            f"{pad} {paint('=', _BLUE)} {paint('help', _BOLD)}: {diagnostic.help}"
        )
    return "\n".join(out)


def _snippet(
    span: Span, mark: str, message, line_of, width, paint, colour
) -> list[str]:
    text = line_of(span.file, span.line).rstrip("\n").expandtabs(4)
    start = max(span.column, 1)
    if span.end_line == span.line:
        length = max(span.end_column - span.column, 1)
    else:
        length = max(len(text) - start + 1, 1)
    underline = " " * (start - 1) + mark * length
    if message:
        underline += " " + message
    bar = paint("|", _BLUE)
    return [
        f"{paint(str(span.line).rjust(width), _BLUE)} {bar} {text}".rstrip(),
        f"{' ' * width} {bar} {paint(underline, colour)}",
    ]


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
