"""Layout: turns the lexer's newline tokens into logical lines and blocks.

Input: lark tokens with ``_NL`` tokens that carry the following line's
indentation.  Output: the same tokens with ``_INDENT`` / ``_DEDENT`` around
blocks, no newlines inside brackets, and continuation lines joined to the
statement they continue.  Afterwards every logical line ends in exactly one
``_NL`` and indentation is balanced.

A more-indented line continues the statement above it (instead of opening a
block) when the statement is one that LoT lets run over several lines and
the new line starts with a word that can only continue it, such as ``WITH``
or ``RETURN`` under ``CALL``, ``ELSE`` under a value ``IF``, or an operator;
or when the line above ends in an operator.  Which words continue which
statement is spelled out in ``CONTINUATIONS`` below, one entry per opener.

Tabs count to the next multiple of four columns (the parser reports them);
the first indentation step of a file sets its unit, and a block indented by
anything else is reported as inconsistent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lark import Token

from lotc.frontend import messages
from lotc.frontend.diagnostics import Diagnostic, Span

_OPERATORS = frozenset(
    {"PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "AND", "OR", "AND_THEN"}
)
_STATEMENT_CONTINUATIONS = _OPERATORS | {"WITH", "RETURN", "ELSE", "THEN", "IN", "TO"}
_CONDITION_CONTINUATIONS = _OPERATORS | {"THEN"}
_VALUE_CONTINUATIONS = _OPERATORS | {"ELSE", "THEN"}

CONTINUATIONS: dict[str, frozenset[str]] = {
    "SET": _STATEMENT_CONTINUATIONS,
    "PUBLISH": _STATEMENT_CONTINUATIONS,
    "KEEP": _STATEMENT_CONTINUATIONS,
    "CALL": _STATEMENT_CONTINUATIONS,
    "TRIGGER": _STATEMENT_CONTINUATIONS,
    "IF": _CONDITION_CONTINUATIONS,
    "ELSE": _CONDITION_CONTINUATIONS,
    "UNTIL": _CONDITION_CONTINUATIONS,
    "CASE": _CONDITION_CONTINUATIONS,
    "NAME": _VALUE_CONTINUATIONS,
    "ADD": _VALUE_CONTINUATIONS,
}
# A line of one of these statements that ends in one of these tokens is open:
# whatever more-indented line follows is part of it.
_OPEN_ENDINGS = _OPERATORS | {"THEN", "ELSE", "EQUAL", "COMMA"}
_OPEN_ENDING_OPENERS = frozenset({"SET", "PUBLISH", "KEEP", "CALL", "NAME", "ADD"})
# A condition line that ends in an operator is open too (but not one that ends
# in THEN: that opens the block).
_CONDITION_OPENERS = frozenset({"IF", "ELSE", "UNTIL", "CASE"})

_OPENING = {"LPAR": "RPAR", "LBRACE": "RBRACE", "LSQB": "RSQB"}
_CLOSING = frozenset(_OPENING.values())

TAB_WIDTH = 4
_NEXT_WORD = re.compile(r"[ \t\f]*([A-Za-z_][A-Za-z0-9_]*|\S)")
_SYMBOLS = {"+": "PLUS", "-": "MINUS", "*": "STAR", "/": "SLASH", "%": "PERCENT"}


def _position(newline: Token, indent: int) -> Token:
    """A token placed at the first character after the indentation of a line."""
    line = newline.end_line
    column = newline.end_column
    return Token(
        "_NL", "", newline.end_pos, line, column, line, column, newline.end_pos
    )


def indentation_of(newline_text: str) -> int:
    """Width of the indentation that ends a ``_NL`` token, tabs to stops of four."""
    tail = newline_text[newline_text.rfind("\n") + 1 :]
    width = 0
    for ch in tail:
        width = (width // TAB_WIDTH + 1) * TAB_WIDTH if ch == "\t" else width + 1
    return width


class Layout:
    """The lark post-lexer.  One instance serves every parse, one at a time.

    Before each parse the parser calls ``reset``; afterwards it reads
    ``diagnostics`` and ``unit`` (kept across the entities of one file).
    """

    always_accept = ("_NL",)

    def __init__(self) -> None:
        self.file = "<input>"
        self.text = ""
        self.unit: int | None = None
        self.unit_line = 0
        self.diagnostics: list[Diagnostic] = []

    def reset(self, file: str, text: str, unit: int | None) -> None:
        """Prepare for parsing ``text`` (the exact string given to lark)."""
        self.file, self.text, self.unit, self.unit_line = file, text, unit, 0
        self.diagnostics = []

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        stack = [0]
        depth = 0
        opener: str | None = None
        last: Token | None = None
        line_indent = 0

        for token in stream:
            if token.type != "_NL":
                if opener is None:
                    opener = token.type
                if token.type in _OPENING:
                    depth += 1
                elif token.type in _CLOSING and depth:
                    depth -= 1
                last = token
                yield token
                continue
            if depth:
                continue
            # The contextual lexer lexes in the parser's current state, so the
            # next token cannot be asked for before this newline is handed on:
            # peek at the text instead.
            following = self._peek(token.end_pos)
            if following is None:
                break
            indent = indentation_of(token.value)
            if indent > line_indent and self._continues(opener, last, following):
                continue

            yield token
            at = _position(token, indent)
            if indent > stack[-1]:
                self._check_step(indent - stack[-1], at)
                stack.append(indent)
                yield Token.new_borrow_pos("_INDENT", "", at)
            elif indent < stack[-1]:
                while indent < stack[-1]:
                    stack.pop()
                    yield Token.new_borrow_pos("_DEDENT", "", at)
                if indent != stack[-1]:
                    # Read the line as part of the enclosing block, so that one
                    # misplaced line gives one diagnostic and not a cascade.
                    self._report_dedent(indent, stack, at)
            line_indent, opener, last = indent, None, None

        end = last or Token("_NL", "", 0, 1, 1, 1, 1, 0)
        yield Token.new_borrow_pos("_NL", "\n", end)
        for _ in stack[1:]:
            yield Token.new_borrow_pos("_DEDENT", "", end)

    def _peek(self, position: int) -> str | None:
        """The kind of the token that starts at ``position``: a word, or an
        operator's terminal name; None at the end of the text."""
        match = _NEXT_WORD.match(self.text, position)
        if match is None:
            return None
        word = match.group(1)
        if word[0].isalpha() or word[0] == "_":
            return word if word.isupper() else "NAME"
        return _SYMBOLS.get(word, word)

    @staticmethod
    def _continues(opener: str | None, last: Token | None, following: str) -> bool:
        if opener is None:
            return False
        if following in CONTINUATIONS.get(opener, ()):
            return True
        if last is None:
            return False
        if opener in _OPEN_ENDING_OPENERS:
            return last.type in _OPEN_ENDINGS
        return opener in _CONDITION_OPENERS and last.type in _OPERATORS

    def _check_step(self, step: int, at: Token) -> None:
        if self.unit is None:
            self.unit, self.unit_line = step, at.line
            return
        if step != self.unit:
            span = Span.point(self.file, at.line, 1, at.column - 1)
            detail = (
                f"this block is indented by {step} spaces, "
                f"but this file indents by {self.unit}"
            )
            self.diagnostics.append(
                messages.INCONSISTENT_INDENT.at(
                    span,
                    detail=detail,
                    help=f"indent each block by {self.unit} spaces",
                )
            )

    def _report_dedent(self, indent: int, stack: list[int], at: Token) -> None:
        columns = ", ".join(str(level) for level in stack)
        span = Span.point(self.file, at.line, 1, max(indent, 1))
        detail = (
            f"this line is indented by {indent} spaces, "
            "which matches no enclosing block"
        )
        self.diagnostics.append(
            messages.INCONSISTENT_INDENT.at(
                span,
                detail=detail,
                notes=(f"the enclosing blocks are indented by {columns} spaces",),
                help="line it up with the block it belongs to",
            )
        )
