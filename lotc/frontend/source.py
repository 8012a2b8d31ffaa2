"""Source files: reading `.lot` files and `.lotnb` notebooks, comments set aside.

Input: a path (or text).  Output: ``SourceFile`` objects whose ``code`` is the
text with CRLF turned into LF and every comment replaced by spaces, so that the
lexer never sees a comment and every line and column stays where the user
wrote it.  The comments themselves are kept in ``comments`` for the formatter.
A notebook yields one ``SourceFile`` per LoT code cell, named ``nb.lotnb#cellN``
with lines counted inside the cell.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from lotc.frontend import messages
from lotc.frontend.diagnostics import Diagnostic, Span


@dataclass(frozen=True)
class Comment:
    line: int
    column: int
    text: str
    own_line: bool


@dataclass
class SourceFile:
    name: str
    text: str
    code: str = ""
    comments: list[Comment] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.text = self.text.replace("\r\n", "\n").replace("\r", "\n")
        self.code, self.comments, self.diagnostics = _set_comments_aside(
            self.name, self.text
        )
        self.lines = self.text.split("\n")

    def line_text(self, line: int) -> str:
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1]
        return ""


# What the comment scanner stops at: a string's opening quote or a comment's
# opening.  Searching for these with one regular expression, instead of looking
# at every character in Python, keeps reading a large site cheap.
_NEXT_MARK = re.compile(r"[\"']|//|--|/\*")
# A string runs to its closing quote or the end of its line; in a
# double-quoted string a backslash escapes the next character, even a newline.
_STRING_BODY = {
    '"': re.compile(r'(?:[^"\\\n]|\\[\s\S]?)*"?'),
    "'": re.compile(r"[^'\n]*'?"),
}
_NOT_NEWLINE = re.compile(r"[^\n]")


def _set_comments_aside(name: str, text: str):
    """Blank out `//`, `--` and `/* */` comments that stand outside strings."""
    pieces: list[str] = []
    comments: list[Comment] = []
    diagnostics: list[Diagnostic] = []
    copied, counted, line, i, n = 0, 0, 1, 0, len(text)

    while (mark := _NEXT_MARK.search(text, i)) is not None:
        i = mark.start()
        opener = mark.group()
        if opener in "\"'":
            i = _STRING_BODY[opener].match(text, i + 1).end()
            continue
        line += text.count("\n", counted, i)
        counted = i
        line_start = text.rfind("\n", 0, i) + 1
        own_line = text[line_start:i].strip() == ""
        column = i - line_start + 1
        if opener == "/*":
            end = text.find("*/", i + 2)
            if end == -1:
                diagnostics.append(
                    messages.UNTERMINATED_COMMENT.at(
                        Span.point(name, line, column, 2),
                        help="close the comment with `*/`",
                    )
                )
                end = n
            else:
                end += 2
        else:
            end = text.find("\n", i)
            end = n if end == -1 else end
        comments.append(Comment(line, column, text[i:end], own_line))
        pieces.append(text[copied:i])
        pieces.append(_NOT_NEWLINE.sub(" ", text[i:end]))
        copied = i = end
    pieces.append(text[copied:])
    return "".join(pieces), comments, diagnostics


def read_sources(path: Path, display: str) -> tuple[list[SourceFile], list[Diagnostic]]:
    """Read one `.lot` file or the LoT cells of one `.lotnb` notebook."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        span = Span.point(display, 1, 1)
        return [], [messages.UNREADABLE_FILE.at(span, path=display, reason=reason)]
    text = raw.decode("utf-8", errors="replace")
    if path.suffix.lower() == ".lotnb":
        return _notebook_cells(text, display)
    return [SourceFile(display, text)], []


def notebook_python_cells(path: Path, display: str) -> list[tuple[str, str]]:
    """The Python cells of a notebook, as (name, text) pairs."""
    try:
        document = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return []
    cells = document.get("cells", document) if isinstance(document, dict) else document
    found = []
    for number, cell in enumerate(cells if isinstance(cells, list) else [], start=1):
        if isinstance(cell, dict) and cell.get("language") == "python":
            value = cell.get("value", "")
            if isinstance(value, list):
                value = "".join(str(part) for part in value)
            if isinstance(value, str):
                found.append((f"{display}#cell{number}", value))
    return found


def _notebook_cells(text: str, display: str):
    try:
        document = json.loads(text)
    except ValueError:
        span = Span.point(display, 1, 1)
        reason = "it is not valid notebook JSON"
        help_text = "a file of plain LoT text should be named `.lot`"
        return [], [
            messages.UNREADABLE_FILE.at(
                span, path=display, reason=reason, help=help_text
            )
        ]
    cells = document.get("cells", document) if isinstance(document, dict) else document
    sources = []
    for number, cell in enumerate(cells if isinstance(cells, list) else [], start=1):
        if not isinstance(cell, dict) or cell.get("language") != "lot":
            continue
        value = cell.get("value", "")
        if isinstance(value, list):
            value = "".join(str(part) for part in value)
        if isinstance(value, str) and value.strip():
            sources.append(SourceFile(f"{display}#cell{number}", value))
    return sources, []


SITE_SUFFIXES = (".lot", ".lotnb", ".py")


def collect_paths(arguments: list[str]) -> tuple[list[tuple[Path, str]], list[str]]:
    """Expand files and folders into (path, display name) pairs, sorted.

    Folders recurse into `*.lot`, `*.lotnb` and `*.py` (site scripts).
    Returns the pairs and the arguments that do not exist.
    """
    found: list[tuple[Path, str]] = []
    missing: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SITE_SUFFIXES:
                    found.append((child, str(child)))
        elif path.is_file():
            found.append((path, argument))
        else:
            missing.append(argument)
    return found, missing
