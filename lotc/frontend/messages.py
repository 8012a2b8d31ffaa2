"""The registry of diagnostic codes: every code, its slug, severity and message.

Codes are never reused.  Ranges: LOT001-099 syntax and layout, LOT100-199 names
and types, LOT200-299 configuration of routes, models and rules, LOT300-399
topics and the site graph, LOT400-499 code generation, LOT900+ internal.
Each code has a page ``docs/errors/LOTnnn.md`` that ``lotc explain`` prints.
Messages are lower-case with no final period, as rustc writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from lotc.frontend.diagnostics import Diagnostic, Label, Severity, Span


@dataclass(frozen=True)
class Code:
    code: str
    slug: str
    severity: Severity
    template: str

    def at(
        self,
        span: Span,
        *,
        help: str | None = None,
        notes: tuple[str, ...] = (),
        labels: tuple[Label, ...] = (),
        **fields: object,
    ) -> Diagnostic:
        return Diagnostic(
            severity=self.severity,
            code=self.code,
            slug=self.slug,
            message=self.template.format(**fields),
            span=span,
            labels=labels,
            notes=notes,
            help=help,
        )


E, W = Severity.ERROR, Severity.WARNING

# One line per code, kept unwrapped so the registry reads as a table.
# fmt: off

# --- syntax and layout -------------------------------------------------------
UNEXPECTED_TOKEN = Code("LOT001", "unexpected-token", E, "expected {expected}, found {found}")
UNEXPECTED_CHARACTER = Code("LOT002", "unexpected-character", E, "unexpected character {found}")
UNTERMINATED_STRING = Code("LOT003", "unterminated-string", E, "unterminated string literal")
UNTERMINATED_COMMENT = Code("LOT004", "unterminated-comment", E, "unterminated block comment")
TAB_INDENT = Code("LOT005", "tab-indentation", E, "tab character in indentation")
INCONSISTENT_INDENT = Code("LOT006", "inconsistent-indentation", E, "{detail}")
INDENT_WIDTH = Code("LOT007", "indentation-width", W, "indentation of {width} spaces; LoT uses 4")
LOWERCASE_KEYWORD = Code("LOT008", "lowercase-keyword", E, "keyword `{word}` must be upper-case")
MISSING_DO = Code("LOT009", "missing-do", E, "trigger line is missing `DO`")
MESSAGE_KEYWORD = Code("LOT010", "message-keyword", E, "`MESSAGE` is not a LoT keyword")
QUOTED_NAME = Code("LOT011",
    "quoted-entity-name",
    E,
    "{kind} name must be a bare identifier, not a string",)
BLOCK_TERMINATOR = Code("LOT012", "block-terminator", E, "`{word}` does not exist in LoT")
INDENTED_HEADER = Code("LOT013", "indented-header", E, "`{word}` line must start in column 0")
UNEXPECTED_EOF = Code("LOT014", "unexpected-end", E, "unexpected end of {what}, expected {expected}")
UNSUPPORTED_ENTITY = Code("LOT015",
    "unsupported-entity",
    W,
    "`DEFINE {kind}` is not supported by lotc; the entity is skipped",)
TEMPLATE_METADATA = Code("LOT016",
    "template-metadata",
    E,
    "`ADD METADATA` only appears in broker route templates",)
ROUTE_WITHOUT_TYPE = Code("LOT017", "route-without-type", E, "route `{name}` has no `WITH TYPE`")
ACTION_WITHOUT_TRIGGER = Code("LOT018",
    "action-without-trigger",
    E,
    "action `{name}` has no trigger, `INPUT` or `DO` line",)
FUNCTION_CALL = Code("LOT019", "function-call", E, "LoT has no function calls: `{name}(...)`")
RULE_WITHOUT_ELSE = Code("LOT020", "rule-without-else", E, "conditional rule `{name}` has no `ELSE` verdict")
LEGACY_SYNTAX = Code("LOT021", "legacy-syntax", W, "{form} is an older LoT dialect")
ASSIGN_AS_COMPARE = Code("LOT022", "assignment-as-comparison", E, "`=` is not a comparison in a condition")
ZERO_POSITION = Code("LOT023",
    "zero-topic-position",
    E,
    "`TOPIC POSITION` is 1-based; position 0 does not exist",)
NONCANONICAL_TYPE = Code("LOT024",
    "noncanonical-type",
    W,
    "`{name}` is not a LoT type; read as `{canonical}`",)
UNKNOWN_TYPE = Code("LOT025", "unknown-type", E, "unknown type `{name}`")
NESTED_DEFINE = Code("LOT026",
    "nested-define",
    E,
    "`DEFINE` must start in column 0; here it is read as part of `{name}`",)
UNKNOWN_STATEMENT = Code("LOT027", "unknown-statement", E, "`{word}` is not a LoT statement")
TEXT_OUTSIDE_ENTITY = Code("LOT028", "text-outside-entity", E, "text outside any entity")
ELISION = Code("LOT029", "elision", E, "`...` stands for omitted code; it is not LoT")
MISSING_WITH = Code("LOT030", "missing-with", E, "`{statement}` needs `WITH` before its value")
UNKNOWN_TIME_UNIT = Code("LOT031", "unknown-time-unit", E, "`{unit}` is not a time unit")
EMPTY_BODY = Code("LOT033", "empty-body", E, "{what} has no body")
ENTITY_NAME_INVALID = Code("LOT034", "invalid-name", E, "`{name}` is not a valid {kind} name")
MISPLACED_IF_VALUE = Code("LOT035", "misplaced-if-value", E, "`IF` cannot stand here as a value")

# --- names and types (the checker) --------------------------------------------
DUPLICATE_ENTITY = Code("LOT101", "duplicate-entity", E, "{kind} `{name}` is defined more than once")
PAYLOAD_OUTSIDE_TOPIC = Code("LOT102",
    "payload-outside-topic-trigger",
    E,
    "`{word}` only exists in `ON TOPIC` and `ON CHANGE` actions",)
BARE_NAME = Code("LOT103", "bare-name", E, "bare name `{name}` in an action")
SESSION_OUTSIDE_SESSION = Code("LOT104",
    "session-value-outside-session-trigger",
    E,
    "`{word}` only exists in `ON CONNECT`, `ON DISCONNECT` and `ON SUBSCRIBE` actions",)
TIMESTAMP_FORMAT = Code("LOT105", "invalid-timestamp-format", E, "`{format}` is not a TIMESTAMP format")

# --- configuration of routes, models and rules ------------------------------
MISPLACED_BLOCK = Code("LOT201", "misplaced-route-block", E, "`ADD {kind}` cannot stand {place}")

# --- internal ---------------------------------------------------------------
INTERNAL_ERROR = Code("LOT900", "internal-error", E, "internal compiler error: {detail}")
UNREADABLE_FILE = Code("LOT901", "unreadable-file", E, "cannot read {path}: {reason}")

# fmt: on


def all_codes() -> list[Code]:
    """Every registered code, in code order (used by `lotc explain` and the tests)."""
    codes = [value for value in globals().values() if isinstance(value, Code)]
    return sorted(codes, key=lambda c: c.code)


def by_code(code: str) -> Code | None:
    for candidate in all_codes():
        if candidate.code == code.upper():
            return candidate
    return None
