"""Topic patterns: MQTT topics and filters whose text may be partly unknown.

A ``TopicPattern`` is what a topic expression folds to: a sequence of known
``Text`` and ``Unknown`` parts.  Split on ``/`` it gives levels, where a level
is literal text (``+`` and ``#`` are the MQTT wildcards) or a ``Hole``: a level
with an unknown part in it, which stands for any single level whose text
starts and ends with the known pieces around the unknown.  This module knows
nothing of LoT expressions (``lotc.frontend.topics`` folds them) and nothing of
the site graph; it answers questions about topic text: which filters are
valid, where a problem is, and whether two patterns can meet on one topic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from lotc.frontend import ast
from lotc.frontend.diagnostics import Span

PLUS = "+"
HASH = "#"
# Stands for an unknown part in ``TopicPattern.flat``: not `/`, `+` or `#`,
# and not a character a LoT string literal can hold by accident.
UNKNOWN_MARK = "\uffff"


@dataclass(frozen=True)
class Text:
    """Known topic text; ``node`` is where it was written, ``start`` its offset
    inside ``node.value`` when ``node`` is a string literal."""

    value: str
    node: ast.Node | None = None
    start: int = 0


@dataclass(frozen=True)
class Unknown:
    """A part only known at run time; ``label`` shows it, such as ``{pump}``."""

    label: str
    node: ast.Node | None = None


Part = Union[Text, Unknown]


@dataclass(frozen=True)
class Hole:
    """A level with unknown text in it, between a known prefix and suffix."""

    prefix: str = ""
    suffix: str = ""


Level = Union[str, Hole]


@dataclass(frozen=True)
class TopicPattern:
    """``flat`` is the text with each unknown part written as ``UNKNOWN_MARK``;
    ``levels`` splits it; ``key`` names the pattern in the graph, with a level
    that is wholly unknown written ``+`` and an unknown piece of one ``*``."""

    parts: tuple[Part, ...]
    flat: str = field(init=False, repr=False, compare=False)
    levels: tuple[Level, ...] = field(init=False, repr=False, compare=False)
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        flat = "".join(
            p.value if isinstance(p, Text) else UNKNOWN_MARK for p in self.parts
        )
        levels = tuple(_level(text) for text in flat.split("/"))
        # Frozen: the derived fields are set once, here.
        object.__setattr__(self, "flat", flat)
        object.__setattr__(self, "levels", levels)
        object.__setattr__(self, "key", "/".join(_level_key(lv) for lv in levels))

    @classmethod
    def of(cls, text: str, node: ast.Node | None = None) -> TopicPattern:
        return cls((Text(text, node),) if text else ())

    @property
    def constant(self) -> str | None:
        """The whole text when every part is known, else None."""
        return None if UNKNOWN_MARK in self.flat else self.flat

    @property
    def display(self) -> str:
        """The pattern as messages show it: unknown parts by their labels."""
        return "".join(p.value if isinstance(p, Text) else p.label for p in self.parts)

    def locate(self, index: int) -> Span | None:
        """Where character ``index`` of ``flat`` was written, as narrow as known."""
        position = 0
        for part in self.parts:
            width = len(part.value) if isinstance(part, Text) else 1
            if index < position + width:
                return _part_span(part, index - position)
            position += width
        return None


def _level(text: str) -> Level:
    if UNKNOWN_MARK not in text:
        return text
    return Hole(text.split(UNKNOWN_MARK)[0], text.split(UNKNOWN_MARK)[-1])


def _level_key(level: Level) -> str:
    if isinstance(level, str):
        return level
    if not level.prefix and not level.suffix:
        return PLUS
    return f"{level.prefix}*{level.suffix}"


def _part_span(part: Part, offset: int) -> Span | None:
    if part.node is None:
        return None
    if isinstance(part, Text) and isinstance(part.node, ast.String):
        return literal_span(part.node, part.start + offset)
    return part.node.span


# ------------------------------------------------------------ literal carets


def literal_span(string: ast.String, index: int) -> Span:
    """The one-character span of ``string.value[index]`` inside the literal.

    Escapes are counted from the raw text (``\\u002b`` is six columns for one
    character); a literal written over several lines gets its whole span.
    """
    span = string.span
    raw = string.raw
    if span.line != span.end_line or not raw.startswith('"'):
        return span
    column, i, decoded = span.column + 1, 1, 0
    while i < len(raw) - 1:
        width = _escape_width(raw, i)
        if decoded == index:
            return Span(span.file, span.line, column, span.line, column + width)
        column, i, decoded = column + width, i + width, decoded + 1
    return span


def _escape_width(raw: str, i: int) -> int:
    """How many raw characters make the decoded character at ``raw[i]``."""
    if raw[i] != "\\" or i + 1 >= len(raw) - 1:
        return 1
    if raw[i + 1] in 'ntr"\\/':
        return 2
    if raw[i + 1] == "u" and i + 6 <= len(raw) - 1:
        try:
            int(raw[i + 2 : i + 6], 16)
            return 6
        except ValueError:
            return 1
    return 1


def literal_at(span: Span, value: str) -> ast.String:
    """A string literal for text the AST keeps without its raw form.

    Route settings and model options keep only the decoded text and a span
    that ends at the closing quote; when the widths agree (no escapes) the
    literal is rebuilt so carets can point inside it.
    """
    width = len(value) + 2
    if span.line == span.end_line and span.end_column - span.column >= width:
        start = span.end_column - width
        literal = Span(span.file, span.line, start, span.line, span.end_column)
        return ast.String(literal, value, f'"{value}"')
    return ast.String(span, value, "")


# ------------------------------------------------------------ validity


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a topic: ``index`` into ``flat`` (None: the whole)."""

    reason: str
    index: int | None
    severe: bool = True


def filter_problems(flat: str) -> list[Problem]:
    """Why ``flat`` is not a valid MQTT filter (errors), and its empty levels
    (warnings), first problem first."""
    if not flat:
        return [Problem("a filter cannot be empty", None)]
    found: list[Problem] = []
    if "\0" in flat:
        found.append(Problem("it contains a NUL character", flat.index("\0")))
    start = 0
    levels = flat.split("/")
    for number, level in enumerate(levels):
        last = number == len(levels) - 1
        found.extend(_wildcard_problems(level, start, last))
        start += len(level) + 1
    if not [p for p in found if p.severe]:
        found.extend(empty_level_problems(flat))
    return found


def _wildcard_problems(level: str, start: int, last: bool) -> list[Problem]:
    if HASH in level and (level != HASH or not last):
        reason = "`#` must be the whole last level"
        return [Problem(reason, start + level.index(HASH))]
    if PLUS in level and level != PLUS:
        return [Problem("`+` must be a whole level", start + level.index(PLUS))]
    return []


def empty_level_problems(flat: str) -> list[Problem]:
    """One warning at the first empty level; ``a//b``, ``/a`` and ``a/`` have one."""
    if "/" not in flat:
        return []
    if flat.startswith("/"):
        return [Problem("empty level", 0, severe=False)]
    if "//" in flat:
        return [Problem("empty level", flat.index("//") + 1, severe=False)]
    if flat.endswith("/"):
        return [Problem("empty level", len(flat) - 1, severe=False)]
    return []


# ------------------------------------------------------------ overlap


def overlap(a: TopicPattern | str, b: TopicPattern | str) -> bool:
    """True if some concrete topic can match both patterns.

    Both sides are read as filters: ``+`` and wholly unknown levels match any
    one level, ``#`` the rest of the topic (including its parent level, as
    ``a/#`` matches ``a``).  As MQTT says, a wildcard in the first level does
    not match a topic that starts with ``$``.
    """
    return levels_overlap(_levels_of(a), _levels_of(b))


def _levels_of(pattern: TopicPattern | str) -> tuple[Level, ...]:
    if isinstance(pattern, str):
        return tuple(pattern.split("/"))
    return pattern.levels


def levels_overlap(a: tuple[Level, ...], b: tuple[Level, ...]) -> bool:
    if a and b and (_dollar_blocked(a[0], b[0]) or _dollar_blocked(b[0], a[0])):
        return False
    for i in range(max(len(a), len(b))):
        if (i < len(a) and a[i] == HASH) or (i < len(b) and b[i] == HASH):
            return True
        if i >= len(a) or i >= len(b):
            return False
        if not level_overlap(a[i], b[i]):
            return False
    return True


def covers(filter_pattern: TopicPattern | str, pattern: TopicPattern | str) -> bool:
    """True if every topic ``pattern`` can stand for matches ``filter_pattern``.

    Stricter than ``overlap``: an unknown level is covered only by ``+`` or
    ``#`` in the filter, never by literal text it might happen to equal.
    """
    wanted, levels = _levels_of(filter_pattern), _levels_of(pattern)
    for i, level in enumerate(wanted):
        dollar = (
            i == 0 and bool(levels) and _is_literal(levels[0]) and levels[0][:1] == "$"
        )
        if level == HASH:
            return not dollar
        if i >= len(levels) or levels[i] == HASH:
            return False
        if level == PLUS:
            if dollar:
                return False
            continue
        if not (_is_literal(levels[i]) and levels[i] == level):
            return False
    return len(levels) == len(wanted)


def _dollar_blocked(wild: Level, other: Level) -> bool:
    return wild in (PLUS, HASH) and isinstance(other, str) and other[:1] == "$"


def level_overlap(a: Level, b: Level) -> bool:
    if a == PLUS or b == PLUS:
        return True
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, str):
        a, b = b, a
    if isinstance(b, str):
        return _hole_fits(a, b)
    return _compatible(a.prefix, b.prefix, str.startswith) and _compatible(
        a.suffix, b.suffix, str.endswith
    )


def _hole_fits(hole: Hole, text: str) -> bool:
    return (
        len(text) >= len(hole.prefix) + len(hole.suffix)
        and text.startswith(hole.prefix)
        and text.endswith(hole.suffix)
    )


def _compatible(x: str, y: str, test) -> bool:
    return test(x, y) or test(y, x)


# ------------------------------------------------------------ index


class FilterIndex:
    """Patterns stored level by level, so that finding every stored pattern
    that overlaps a given one visits only the branches that can match."""

    def __init__(self) -> None:
        self._root = _Trie()

    def add(self, levels: tuple[Level, ...], value: object) -> None:
        node = self._root
        for level in levels:
            if level == HASH:
                node.rest.append(value)
                return
            node = node.child(level)
        node.end.append(value)

    def overlapping(self, levels: tuple[Level, ...]) -> list:
        """The stored values whose patterns overlap ``levels``, each once."""
        found: list = []
        _visit(self._root, levels, 0, found)
        return list(dict.fromkeys(found))


class _Trie:
    __slots__ = ("literal", "other", "rest", "end")

    def __init__(self) -> None:
        self.literal: dict[str, _Trie] = {}
        self.other: dict[Level, _Trie] = {}  # `+` and holes
        self.rest: list = []  # patterns that end in `#` here
        self.end: list = []  # patterns that end here

    def child(self, level: Level) -> _Trie:
        table = self.literal if _is_literal(level) else self.other
        found = table.get(level)
        if found is None:
            found = table[level] = _Trie()
        return found


def _is_literal(level: Level) -> bool:
    return isinstance(level, str) and level not in (PLUS, HASH)


def _visit(node: _Trie, levels: tuple[Level, ...], i: int, found: list) -> None:
    dollar = i == 0 and bool(levels) and _is_literal(levels[0]) and levels[0][:1] == "$"
    if not dollar:
        found.extend(node.rest)
    if i == len(levels):
        found.extend(node.end)
        return
    level = levels[i]
    if level == HASH:
        _collect(node, found, skip_dollar=i == 0)
        return
    if _is_literal(level):
        if level in node.literal:
            _visit(node.literal[level], levels, i + 1, found)
        for key, child in node.other.items():
            if not (dollar and key == PLUS) and level_overlap(key, level):
                _visit(child, levels, i + 1, found)
        return
    for key, child in node.literal.items():
        blocked = i == 0 and level == PLUS and key[:1] == "$"
        if not blocked and level_overlap(level, key):
            _visit(child, levels, i + 1, found)
    for key, child in node.other.items():
        if level_overlap(level, key):
            _visit(child, levels, i + 1, found)


def _collect(node: _Trie, found: list, skip_dollar: bool = False) -> None:
    """Everything stored at or below ``node`` (a query `#` matches it all)."""
    found.extend(node.rest)
    found.extend(node.end)
    for key, child in node.literal.items():
        if not (skip_dollar and key[:1] == "$"):
            _collect(child, found)
    for child in node.other.values():
        _collect(child, found)
