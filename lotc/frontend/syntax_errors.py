"""Syntax errors in LoT's own words.

Input: a lark ``UnexpectedInput`` raised while parsing one entity.  Output: one
diagnostic that names what was found and what LoT expects there in readable
terms (never lark's terminal names), with at most a few expected items, and
that recognises by name the mistakes people make most often: a missing
``DO``, ``MESSAGE`` for ``WITH``, ``END IF``, an indented trigger line, a
lower-case keyword, function-call syntax, an unterminated string.
"""

from __future__ import annotations

import re

from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from lotc.frontend import messages
from lotc.frontend.diagnostics import Diagnostic, Span

_PUNCTUATION = {
    "LPAR": "(",
    "RPAR": ")",
    "LBRACE": "{",
    "RBRACE": "}",
    "LSQB": "[",
    "RSQB": "]",
    "COMMA": ",",
    "COLON": ":",
    "DOT": ".",
    "EQUAL": "=",
    "PLUS": "+",
    "MINUS": "-",
    "STAR": "*",
    "SLASH": "/",
    "PERCENT": "%",
    "LESSTHAN": "<",
    "MORETHAN": ">",
}
_READABLE = {
    "STR": "a string",
    "SQ_STR": "a quoted value",
    "NAME": "a name",
    "NUMBER": "a number",
    "VARREF": "a variable like `{x}`",
    "BOOLEAN": "`TRUE` or `FALSE`",
    "TYPE_KEYWORD": "a type",
    "QOS": "`QOS0`, `QOS1` or `QOS2`",
    "_NL": "end of line",
    "_INDENT": "an indented block",
    "_DEDENT": "end of the block",
    "$END": "end of the entity",
}
_EXPRESSION_STARTS = frozenset(
    {"NUMBER", "STR", "VARREF", "PAYLOAD", "BOOLEAN", "EMPTY", "GET", "TIMESTAMP"}
)
_OPERATOR_NAMES = frozenset(
    {"PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "LESSTHAN", "MORETHAN", "AND", "OR"}
    | {"CONTAINS", "STARTS_WITH", "ENDS_WITH"}
)
_STATEMENT_STARTS = frozenset({"SET", "PUBLISH", "KEEP", "CALL", "IF", "TRIGGER"})
_HEADER_WORDS = ("ON", "INPUT", "DO", "RETURN", "OUTPUT", "DESCRIPTION")
_FUNCTION_HELP = (
    'compute it in Python: `CALL PYTHON "Script.function" WITH (...) '
    "RETURN AS {result}`"
)
_BLOCK_TERMINATORS = frozenset({"END", "ENDIF", "END_IF", "ENDACTION", "END_ACTION"})
_FOREIGN_STATEMENTS = {
    "WHILE": "repeat with `LOOP` ... `UNTIL condition`",
    "FOR": "LoT has no FOR loop; use `LOOP` ... `UNTIL condition`",
    "REPEAT": "repeat with `LOOP` ... `UNTIL condition`",
    "BREAK": "end a `LOOP` with its `UNTIL` condition",
    "RETURN": "a value comes back from a callable action through `RETURN` / `OUTPUT`",
    "PRINT": 'publish the text with `PUBLISH TOPIC "t" WITH ...`',
}


def keyword_set(parser) -> frozenset[str]:
    words = set()
    for terminal in parser.terminals:
        pattern = terminal.pattern
        if pattern.type == "str" and re.fullmatch(r"[A-Z][A-Z0-9_]*", pattern.value):
            words.add(pattern.value)
    return frozenset(words)


def translate(error: UnexpectedInput, source, chunk) -> Diagnostic:
    from lotc.frontend.parser import lark_parser

    keywords = keyword_set(lark_parser())
    if isinstance(error, UnexpectedCharacters):
        return _unexpected_character(error, source)
    if isinstance(error, UnexpectedEOF):
        span = _end_span(source, chunk)
        return messages.UNEXPECTED_EOF.at(
            span, what="entity", expected=_expected(error.expected)
        )
    assert isinstance(error, UnexpectedToken)
    return _unexpected_token(error, source, chunk, keywords)


def _unexpected_character(error: UnexpectedCharacters, source) -> Diagnostic:
    line = source.line_text(error.line)
    column = error.column
    rest = line[column - 1 :]
    span = Span.point(source.name, error.line, column)
    if rest.startswith('"'):
        width = len(rest.rstrip())
        return messages.UNTERMINATED_STRING.at(
            Span.point(source.name, error.line, column, width),
            help='close the string with `"` on the same line',
        )
    if rest.startswith("..."):
        return messages.ELISION.at(
            Span.point(source.name, error.line, column, 3),
            help="write the omitted code out, or delete the `...`",
        )
    found = rest[:1] or "end of line"
    help_text = None
    if found == "[":
        help_text = "LoT has no array literals; build JSON text, or use a model"
    elif found == "'":
        help_text = 'single quotes are only for route settings; strings use `"`'
    elif found == ";":
        help_text = "a LoT statement ends with its line; delete the `;`"
    return messages.UNEXPECTED_CHARACTER.at(span, found=f"`{found}`", help=help_text)


def _unexpected_token(error: UnexpectedToken, source, chunk, keywords) -> Diagnostic:
    token = error.token
    expected = _acceptable(error)
    span = _token_span(token, source)
    value = str(token.value)

    if token.type == "_INDENT":
        return _unexpected_indent(token, expected, source, chunk)
    if token.type == "$END" or token.type == "_DEDENT":
        what = "entity" if token.type == "$END" else "block"
        if expected & {"_INDENT"} and "DO" not in expected:
            return messages.EMPTY_BODY.at(
                _end_span(source, chunk),
                what=_open_block(source, chunk),
                help="indent the statements of the block under it",
            )
        help_text = None
        if expected & {"INPUT", "DO", "ON"}:
            help_text = "add a trigger line ending in `DO`, then the indented body"
        return messages.UNEXPECTED_EOF.at(
            _end_span(source, chunk),
            what=what,
            expected=_expected(expected),
            help=help_text,
        )
    if "DO" in expected and token.type in ("_NL", "_DEDENT"):
        return messages.MISSING_DO.at(
            span,
            help="end the trigger line with `DO`, or put `DO` alone on the next line",
        )
    before = source.line_text(token.line)[: token.column - 1]
    if token.type == "LPAR" and (
        called := re.search(r"([A-Za-z_][A-Za-z0-9_.]*)\s*$", before)
    ):
        name = called.group(1)
        return messages.FUNCTION_CALL.at(
            Span.point(source.name, token.line, token.column - len(name), len(name)),
            name=name,
            help=_FUNCTION_HELP,
        )
    if token.type == "DOT" and _line_from(source, token).startswith("..."):
        return messages.ELISION.at(
            Span.point(source.name, token.line, token.column, 3),
            help="write the omitted code out, or delete the `...`",
        )
    if token.column == 1 and token.type not in _HEADER_WORDS and not before.strip():
        return messages.TEXT_OUTSIDE_ENTITY.at(
            _token_span(token, source),
            help=(
                "a line in column 0 must start a new entity with `DEFINE`; "
                "indent it if it belongs to the entity above"
            ),
        )
    if token.type == "NAME":
        diagnostic = _unexpected_word(token, value, expected, source, span, keywords)
        if diagnostic is not None:
            return diagnostic
    if token.type == "DEFINE":
        return messages.NESTED_DEFINE.at(
            span,
            name=chunk.name,
            help="start a new entity in column 0, or remove this line",
        )
    if re.search(r"(?<![A-Za-z0-9_])IF\s+$", before):
        return messages.MISPLACED_IF_VALUE.at(
            Span.point(source.name, token.line, before.rstrip().rfind("IF") + 1, 2),
            help='SET the value first (`SET "x" WITH IF ... THEN ... ELSE ...`), '
            "or wrap it in parentheses",
        )
    statement = " ".join(_line_words(source, token)[:2])
    if (
        "WITH" in expected
        and token.type in ("STR", "NUMBER", "VARREF", "PAYLOAD")
        and statement in ("PUBLISH TOPIC", "KEEP TOPIC")
        and not re.search(r"\bWITH\b", _without_strings(before))
    ):
        return messages.MISSING_WITH.at(
            span, statement=statement, help="write `WITH` before the value"
        )
    if (
        token.type == "NUMBER"
        and "NAME" in expected
        and _next_char(source, token).isalpha()
    ):
        unit = _word_after(source, token)
        return messages.UNKNOWN_TIME_UNIT.at(
            span,
            unit=value + unit,
            help=f"separate the number and the unit: `{value} SECONDS`",
        )
    help_text = None
    if "STR" in expected and token.type in ("NAME", "NUMBER"):
        word = re.match(r"[^\s]+", _line_from(source, token)).group(0)
        help_text = f'write it in double quotes: `"{word}"`'
        span = Span.point(source.name, token.line, token.column, len(word))
    return messages.UNEXPECTED_TOKEN.at(
        span,
        expected=_expected(expected),
        found=_found(token, keywords),
        help=help_text,
    )


def _unexpected_word(
    token, value, expected, source, span, keywords
) -> Diagnostic | None:
    upper = value.upper()
    if value != upper and upper in keywords:
        return messages.LOWERCASE_KEYWORD.at(span, word=value, help=f"write `{upper}`")
    if value == "MESSAGE":
        return messages.MESSAGE_KEYWORD.at(
            span, help="write `WITH` before the value to publish"
        )
    if upper in _BLOCK_TERMINATORS:
        word = _line_from(source, token).strip()
        span = Span.point(source.name, token.line, token.column, len(word) or 1)
        return messages.BLOCK_TERMINATOR.at(
            span,
            word=word or value,
            help="delete this line: blocks end where the indentation goes back",
        )
    if _next_char(source, token, skip_spaces=True) == "(":
        return messages.FUNCTION_CALL.at(span, name=value, help=_FUNCTION_HELP)
    if "SECONDS" in expected:
        before = source.line_text(token.line)[: token.column - 1]
        number = re.search(r"(\d+(?:\.\d+)?)\s*$", before)
        amount = number.group(1) if number else "5"
        return messages.UNKNOWN_TIME_UNIT.at(
            span,
            unit=value,
            help=f"write the unit as a word after a space: `{amount} SECONDS`",
        )
    if upper in _FOREIGN_STATEMENTS and expected & _STATEMENT_STARTS:
        return messages.UNKNOWN_STATEMENT.at(
            span, word=value, help=_FOREIGN_STATEMENTS[upper]
        )
    if expected & _STATEMENT_STARTS and not expected & {"NAME"}:
        return messages.UNKNOWN_STATEMENT.at(
            span,
            word=value,
            help="statements start with SET, PUBLISH, KEEP, IF, CALL or TRIGGER",
        )
    return None


def _unexpected_indent(token, expected, source, chunk) -> Diagnostic:
    word = _word_at(source, token)
    span = Span.point(source.name, token.line, 1, max(token.column - 1, 1))
    if word in _HEADER_WORDS:
        return messages.INDENTED_HEADER.at(
            span,
            word=word,
            help=f"move `{word}` to column 0; only the body is indented",
        )
    if word == "DEFINE":
        return messages.NESTED_DEFINE.at(
            _token_span(token, source),
            name=chunk.name,
            help="start a new entity in column 0, or remove this line",
        )
    if chunk.kind == "ACTION" and expected & {"ON", "INPUT"}:
        return messages.ACTION_WITHOUT_TRIGGER.at(
            _line_end_span(source, chunk.first_line),
            name=chunk.name,
            help=(
                'add a trigger line such as `ON TOPIC "a/b" DO`, '
                "or `DO` for a callable action"
            ),
        )
    if "DO" in expected:
        return messages.MISSING_DO.at(
            _line_end_span(source, token.line - 1),
            help="end the trigger line with `DO`, or put `DO` alone on the next line",
        )
    return messages.UNEXPECTED_TOKEN.at(
        _token_span(token, source),
        expected=_expected(expected),
        found="an indented line",
        help="indent a line only to open a block",
    )


# ---------------------------------------------------------------- helpers


def _expected(names) -> str:
    names = set(names)
    items: list[str] = []
    if len(names & _EXPRESSION_STARTS) >= 3:
        names -= _EXPRESSION_STARTS | {
            "LPAR",
            "LBRACE",
            "RANDOM",
            "MINUS",
            "NOT",
            "TRIM",
        }
        names -= {"FILTER", "REPLACE", "SPLIT", "CLIENTID", "USER", "ENDPOINT", "NAME"}
        names -= {"CLEANSESSION", "DISCONNECTREASON", "SUBSCRIBETOPIC", "SUBSCRIBEQOS"}
        names -= {"IF"}
        items.append("a value")
    if len(names & _OPERATOR_NAMES) >= 3:
        names -= _OPERATOR_NAMES | {"NOT", "AS", "AND_THEN", "EQUAL", "EQUALS"}
        names = {n for n in names if not n.startswith("__ANON")}
        items.append("an operator")
    if len(names & _STATEMENT_STARTS) >= 3:
        names -= _STATEMENT_STARTS | {"DELETE", "SWITCH", "LOOP"}
        items.append("a statement")
    readable = sorted(_readable(name) for name in names)
    items.extend(readable)
    if len(items) > 4:
        items = items[:4] + ["..."]
    if not items:
        return "something else"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def _readable(name: str) -> str:
    if name in _READABLE:
        return _READABLE[name]
    if name in _PUNCTUATION:
        return f"`{_PUNCTUATION[name]}`"
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
        return f"`{name}`"
    return "an operator"


def _found(token, keywords) -> str:
    if token.type in ("_NL", "_INDENT", "_DEDENT", "$END"):
        return _READABLE.get(token.type, "end of line")
    if token.type == "STR":
        return f"string {token.value}"
    if token.type == "NUMBER":
        return f"number `{token.value}`"
    return f"`{token.value}`"


def _token_span(token, source) -> Span:
    line = getattr(token, "line", None) or 1
    column = getattr(token, "column", None) or 1
    if token.type == "_NL":
        text = source.line_text(line)
        return Span.point(source.name, line, len(text.rstrip()) + 1)
    width = (
        max(len(str(token.value)), 1) if token.type not in ("_INDENT", "_DEDENT") else 1
    )
    return Span.point(source.name, line, column, width)


def _line_end_span(source, line: int) -> Span:
    text = source.line_text(line)
    return Span.point(source.name, line, len(text.rstrip()) + 1)


def _end_span(source, chunk) -> Span:
    last = chunk.first_line
    for offset, text in enumerate(chunk.lines):
        if text.strip():
            last = chunk.first_line + offset
    return _line_end_span(source, last)


def _acceptable(error: UnexpectedToken) -> set[str]:
    """The tokens the parser really accepts here.

    LALR tables merge states, so ``error.expected`` may list tokens that only
    fit another context (a `)` where no parenthesis is open); asking the
    parser, token by token, removes them.
    """
    expected = set(error.expected)
    parser = getattr(error, "interactive_parser", None)
    if parser is None:
        return expected
    try:
        accepted = set(parser.accepts())
    except Exception:  # noqa: BLE001 - a better message is not worth a crash
        return expected
    return accepted or expected


def _open_block(source, chunk) -> str:
    """What the block that has no body belongs to, in the user's words."""
    lines = [line.strip() for line in chunk.lines if line.strip()]
    last = lines[-1] if lines else ""
    first = last.split()[0] if last.split() else ""
    if last.endswith("THEN"):
        return "this `ELSE IF`" if first == "ELSE" else "this `IF`"
    if first in ("ELSE", "SWITCH", "LOOP", "CASE", "DEFAULT", "RETURN"):
        return f"this `{first}`"
    return f"`{chunk.name or chunk.kind}`"


def _without_strings(text: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"?', '""', text)


def _line_from(source, token) -> str:
    return source.line_text(token.line)[token.column - 1 :]


def _line_words(source, token) -> list[str]:
    return source.line_text(token.line).split()


def _next_char(source, token, skip_spaces: bool = False) -> str:
    rest = source.line_text(token.line)[token.column - 1 + len(str(token.value)) :]
    return rest.lstrip()[:1] if skip_spaces else rest[:1]


def _word_after(source, token) -> str:
    rest = source.line_text(token.line)[token.column - 1 + len(str(token.value)) :]
    match = re.match(r"[A-Za-z_]+", rest)
    return match.group(0) if match else ""


def _word_at(source, token) -> str:
    text = source.line_text(token.line)[token.column - 1 :]
    match = re.match(r"[A-Za-z_]+", text)
    return match.group(0) if match else ""
