"""Placeholders in route strings, and the SQL around them.

A route string such as a QUERY, BODY, SUBJECT, ENDPOINT or an event's
DESTINATION_TOPIC may hold ``{...}`` placeholders that the route fills per
message (reference 3.3.3).  This module finds them, says which are not LoT
placeholders (LOT304) or read a topic level the source filter does not have
(LOT305), and analyses SQL queries so that code generation can bind every
placeholder as a query parameter instead of splicing it into the SQL text.

Input: the decoded text of one setting and its span.  Output: placeholders
with their offsets, diagnostics whose carets point at the placeholder inside
the string, and for SQL a ``QueryTemplate``.

The quoted-placeholder rule: in ``'{value.json.a}'`` the quotes only say "this
is text" and go away with the placeholder: the literal becomes ``$1``.  A
literal that holds other text as well, ``'line-{topic.2}'``, also becomes one
parameter, bound to the text formatted from a ``template`` (``"line-{}"``);
lotc does not write ``'line-' || $1`` because ``||`` is not concatenation on
every database the SQL routes reach (MySQL reads it as OR).  A placeholder
where SQL expects a name (after FROM, INTO, UPDATE, JOIN, TABLE, BY, inside
double quotes or backticks, in an INSERT column list) cannot be a parameter:
LOT306.  Placeholders inside SQL comments are left as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic, Span
from lotc.frontend.suggest import close_names

# A placeholder is a brace pair around a dotted word; JSON text such as
# `{"a": 1}` has quotes or spaces inside and is left alone.
_PLACEHOLDER = re.compile(r"\{([^{}\s\"':,]*)\}")
_CLEAN = re.compile(r"^\s*CLEAN:\s*\{\s*table\s*:\s*([^,{}\s]+)\s*,\s*data\s*:\s*")
_SEGMENT = re.compile(r"[A-Za-z0-9_\-]+$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")

FIXED = (
    "payload",
    "value",
    "topic",
    "timestamp",
    "timestamp.unix",
    "timestamp.unix_ms",
)
PREFIXES = (
    "payload.json",
    "value.json",
    "payload.csv",
    "value.csv",
    "topic",
    "env",
    "secret",
)
FILE_PATTERN_ONLY = ("0", "date")


@dataclass(frozen=True)
class Placeholder:
    """``{name}`` at ``start``..``end`` (offsets in the decoded string)."""

    name: str
    start: int
    end: int

    @property
    def spelling(self) -> str:
        return "{" + self.name + "}"

    @property
    def topic_level(self) -> int | None:
        head, _, rest = self.name.partition(".")
        return int(rest) if head == "topic" and rest.isdigit() else None


def find_placeholders(text: str) -> list[Placeholder]:
    """Every ``{word}`` in ``text``, in order; a CLEAN query's outer braces
    are not placeholders, the one in its ``data:`` is."""
    return [
        Placeholder(m.group(1), m.start(), m.end()) for m in _PLACEHOLDER.finditer(text)
    ]


def parse_clean(text: str) -> tuple[str, Placeholder] | None:
    """``CLEAN:{table: t, data: {value.json}}`` as (table, data placeholder)."""
    match = _CLEAN.match(text)
    if not match:
        return None
    inner = _PLACEHOLDER.match(text, match.end())
    if not inner or text[inner.end() :].strip() != "}":
        return None
    return match.group(1), Placeholder(inner.group(1), inner.start(), inner.end())


def is_known(name: str, *, file_pattern: bool = False) -> bool:
    """Whether ``{name}`` is a LoT route placeholder."""
    if file_pattern:
        return name in FILE_PATTERN_ONLY
    if name in FIXED:
        return True
    head, _, rest = name.partition(".")
    if head in ("payload", "value"):
        kind, dot, path = rest.partition(".")
        if kind == "json":
            return not dot or all(_SEGMENT.match(p) for p in path.split("."))
        return kind == "csv" and path.isdigit() and int(path) >= 1
    if head == "topic":
        return rest.isdigit() and int(rest) >= 1
    if head in ("env", "secret"):
        return bool(_NAME.match(rest))
    return False


def suggestion(name: str, *, file_pattern: bool = False) -> str | None:
    """A close spelling of an unknown placeholder, kept with its path."""
    if file_pattern:
        close = close_names(name, FILE_PATTERN_ONLY, limit=1)
        return "{" + close[0] + "}" if close else None
    if name == "topic.0":
        return "{topic.1}"
    head, dot, rest = name.partition(".")
    close = close_names(
        head, ("payload", "value", "topic", "timestamp", "env", "secret")
    )
    if close and is_known(close[0] + dot + rest):
        return "{" + close[0] + dot + rest + "}"
    close = close_names(name, FIXED + tuple(p + ".1" for p in ("topic",)), limit=1)
    return "{" + close[0] + "}" if close and is_known(close[0]) else None


def filter_depth(source_filter: str) -> int | None:
    """Levels of a filter, or None when ``#`` lets a topic be deeper."""
    levels = source_filter.split("/")
    return None if "#" in levels else len(levels)


# ------------------------------------------------------------- positions


def raw_columns(value: ast.SettingValue) -> Callable[[int, int], Span]:
    """A function from decoded offsets to the span of those characters in the
    source; when the raw width cannot be rebuilt (an escape that decodes two
    ways), every span is the whole string."""
    span = value.span
    widths = _raw_widths(value)
    if span.line != span.end_line or sum(widths) != span.end_column - span.column - 2:
        return lambda start, end: span
    starts = [0]
    for width in widths:
        starts.append(starts[-1] + width)

    def locate(start: int, end: int) -> Span:
        first = span.column + 1 + starts[start]
        return Span(
            span.file, span.line, first, span.line, span.column + 1 + starts[end]
        )

    return locate


def _raw_widths(value: ast.SettingValue) -> list[int]:
    if value.kind != "string":
        return [1] * len(value.text)
    text, widths = value.text, []
    for index, char in enumerate(text):
        if char in '"\n\t\r':
            widths.append(2)
        elif char == "\\":
            following = text[index + 1 : index + 2]
            # A kept backslash is never followed by an escape letter: that
            # pair would have decoded.  So this one was written `\\`.
            widths.append(2 if following and following in 'ntr"\\/u' else 1)
        else:
            widths.append(1)
    return widths


# ------------------------------------------------------------- checking


def check_string(
    value: ast.SettingValue,
    *,
    source_filter: str | None = None,
    file_pattern: bool = False,
    sql: bool = False,
) -> list[Diagnostic]:
    """Diagnostics for the placeholders of one route string."""
    if value.kind not in ("string", "quoted"):
        return []
    locate = raw_columns(value)
    clean = parse_clean(value.text)
    placeholders = [clean[1]] if clean else find_placeholders(value.text)
    found = [_check_one(p, locate, source_filter, file_pattern) for p in placeholders]
    found = [d for d in found if d is not None]
    if sql and clean is None:
        found.extend(_identifier_placeholders(value.text, locate))
    return found


def _check_one(placeholder, locate, source_filter, file_pattern) -> Diagnostic | None:
    span = locate(placeholder.start, placeholder.end)
    if not is_known(placeholder.name, file_pattern=file_pattern):
        return messages.BAD_PLACEHOLDER.at(
            span,
            placeholder=placeholder.spelling,
            help=_unknown_help(placeholder.name, file_pattern),
        )
    level = placeholder.topic_level
    depth = filter_depth(source_filter) if source_filter else None
    if level is None or depth is None or level <= depth:
        return None
    return messages.PLACEHOLDER_POSITION.at(
        span,
        placeholder=placeholder.spelling,
        filter=source_filter,
        depth=depth,
        help=f"`{source_filter}` has levels 1 to {depth}; "
        "`{topic}` is the whole topic",
    )


def _unknown_help(name: str, file_pattern: bool) -> str:
    close = suggestion(name, file_pattern=file_pattern)
    if close:
        return f"did you mean `{close}`?"
    if file_pattern:
        return "`FILE_PATTERN` takes `{0}` (the table name) and `{date}`"
    return (
        "route strings take `{payload}`, `{payload.json.<path>}`, `{topic.<n>}`, "
        "`{timestamp}` and `{env.<NAME>}`; action variables do not reach routes"
    )


def _identifier_placeholders(text: str, locate) -> list[Diagnostic]:
    return [
        messages.SQL_IDENTIFIER_PLACEHOLDER.at(
            locate(p.start, p.end),
            placeholder=p.spelling,
            help="write the table or column name itself; only values can be bound",
        )
        for p in analyse_query(text).identifiers
    ]


# ------------------------------------------------------------- SQL


@dataclass(frozen=True)
class QueryParameter:
    """One bound value: ``$index`` in the rewritten SQL.

    ``quoted``: the placeholders stood inside a quoted literal.  ``template``
    is set when that literal held other text too: the value bound is
    ``template.format(*values of placeholders)`` (braces of the literal are
    doubled in it).
    """

    index: int
    placeholders: tuple[Placeholder, ...]
    quoted: bool
    template: str | None = None

    @property
    def placeholder(self) -> Placeholder:
        return self.placeholders[0]


@dataclass(frozen=True)
class QueryTemplate:
    """SQL with parameters: ``pieces`` are the SQL between parameters."""

    pieces: tuple[str, ...]
    parameters: tuple[QueryParameter, ...]
    identifiers: tuple[Placeholder, ...] = ()

    def render(
        self,
        marker: Callable[[int], str],
        escape: Callable[[str], str] = lambda sql: sql,
    ) -> str:
        """The SQL with each parameter written by ``marker(index)`` and the
        SQL between them passed through ``escape``."""
        out = [escape(self.pieces[0])]
        for parameter, piece in zip(self.parameters, self.pieces[1:], strict=True):
            out.extend((marker(parameter.index), escape(piece)))
        return "".join(out)

    @property
    def sql(self) -> str:
        """PostgreSQL style: ``$1``, ``$2``..."""
        return self.render(lambda index: f"${index}")


_NAME_BEFORE = frozenset({"FROM", "INTO", "UPDATE", "JOIN", "TABLE", "BY", "AS"})


def analyse_query(text: str) -> QueryTemplate:
    """Split SQL around its placeholders; see the module docstring."""
    return _QueryScanner(text).scan()


class _QueryScanner:
    """One pass over SQL text, tracking literals, identifiers and comments."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pieces: list[str] = []
        self.parameters: list[QueryParameter] = []
        self.identifiers: list[Placeholder] = []
        self.piece_start = 0
        self.last_word = ""
        self.paren_words: list[str] = []

    def scan(self) -> QueryTemplate:
        text, i = self.text, 0
        while i < len(text):
            i = self._step(i)
        self.pieces.append(text[self.piece_start :])
        return QueryTemplate(
            tuple(self.pieces), tuple(self.parameters), tuple(self.identifiers)
        )

    def _step(self, i: int) -> int:
        text, char = self.text, self.text[i]
        if text.startswith("--", i):
            end = text.find("\n", i)
            return len(text) if end == -1 else end
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            return len(text) if end == -1 else end + 2
        if char == "'":
            return self._literal(i, self._quoted_end(i, "'"))
        if char == "$":
            dollar = re.match(r"\$([A-Za-z_]*)\$", text[i:])
            if dollar:
                tag = dollar.group(0)
                end = text.find(tag, i + len(tag))
                end = len(text) if end == -1 else end + len(tag)
                return self._literal(i, end, len(tag))
        if char in '"`':
            end = self._quoted_end(i, char)
            self.identifiers.extend(self._inside(i, end))
            self.last_word = "NAME"
            return end
        match = _PLACEHOLDER.match(text, i)
        if match:
            return self._bare(Placeholder(match.group(1), i, match.end()))
        return self._token(i)

    def _token(self, i: int) -> int:
        text, char = self.text, self.text[i]
        if char == "(":
            self.paren_words.append(self.last_word)
        elif char == ")" and self.paren_words:
            self.paren_words.pop()
        if char.isalnum() or char == "_":
            word = re.match(r"[A-Za-z0-9_]+", text[i:]).group(0)
            # The word after FROM, INTO... is a name; `t (` then opens a
            # column list rather than a call.
            named = self.last_word in _NAME_BEFORE or self.last_word == "."
            self.last_word = "NAME" if named else word.upper()
            return i + len(word)
        if not char.isspace():
            self.last_word = char
        return i + 1

    def _quoted_end(self, i: int, quote: str) -> int:
        """Index past a quoted run opened at ``i``; a doubled quote escapes."""
        j = i + 1
        while j < len(self.text):
            if self.text[j] == quote:
                if self.text.startswith(quote * 2, j):
                    j += 2
                    continue
                return j + 1
            j += 1
        return j

    def _inside(self, start: int, end: int) -> list[Placeholder]:
        return [
            Placeholder(m.group(1), m.start(), m.end())
            for m in _PLACEHOLDER.finditer(self.text, start, end)
        ]

    def _in_name_position(self) -> bool:
        if self.last_word in _NAME_BEFORE or self.last_word == ".":
            return True
        # `INSERT INTO t (a, {x})`: the parenthesis opened right after a name.
        return (
            bool(self.paren_words)
            and self.paren_words[-1] == "NAME"
            and (self.last_word in ("(", ","))
        )

    def _bare(self, placeholder: Placeholder) -> int:
        if self._in_name_position() or self.text.startswith(".", placeholder.end):
            self.identifiers.append(placeholder)
        else:
            self._parameter(placeholder.start, placeholder.end, (placeholder,), False)
        self.last_word = "VALUE"
        return placeholder.end

    def _literal(self, start: int, end: int, quote_width: int = 1) -> int:
        inside = self._inside(start, end)
        if inside:
            body = self.text[start + quote_width : end - quote_width]
            whole = len(inside) == 1 and body == inside[0].spelling
            template = None if whole else _template(body, inside, start + quote_width)
            self._parameter(start, end, tuple(inside), True, template)
        self.last_word = "VALUE"
        return end

    def _parameter(self, start, end, placeholders, quoted, template=None) -> None:
        self.pieces.append(self.text[self.piece_start : start])
        index = len(self.parameters) + 1
        self.parameters.append(QueryParameter(index, placeholders, quoted, template))
        self.piece_start = end


def _template(body: str, inside: list[Placeholder], offset: int) -> str:
    """The literal's text with its placeholders as ``{}``, `''` undone."""
    out, cursor = [], 0
    for placeholder in inside:
        out.append(_format_safe(body[cursor : placeholder.start - offset]))
        out.append("{}")
        cursor = placeholder.end - offset
    out.append(_format_safe(body[cursor:]))
    return "".join(out)


def _format_safe(text: str) -> str:
    return text.replace("''", "'").replace("{", "{{").replace("}", "}}")
