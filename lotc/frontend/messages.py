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
UNDEFINED_VARIABLE = Code("LOT106", "undefined-variable", E, "variable `{name}` is used before it is set")
MAYBE_UNSET_VARIABLE = Code("LOT107", "maybe-unset-variable", E, "variable `{name}` is not set on every path to this use")
UNKNOWN_ACTION = Code("LOT108", "unknown-action", E, "no action named `{name}` in this site")
NOT_CALLABLE = Code("LOT109", "action-not-callable", E, "action `{name}` has a trigger and cannot be called")
UNKNOWN_INPUT = Code("LOT110", "unknown-input", E, "action `{action}` has no input `{name}`")
MISSING_INPUT = Code("LOT111", "missing-input", E, "`CALL ACTION {action}` gives no value for input `{name}`")
RETURN_COUNT = Code("LOT112", "return-count", E, "action `{action}` returns {outputs}, but {targets} {are} named")
UNKNOWN_MODEL = Code("LOT113", "unknown-model", E, "no model named `{name}` in this site")
UNKNOWN_FIELD = Code("LOT114", "unknown-field", E, "model `{model}` has no field `{name}`")
UNFILLED_FIELD = Code("LOT115", "unfilled-field", W, "field `{name}` of `{model}` gets no value and has no default")
UNKNOWN_PARENT = Code("LOT116", "unknown-parent-model", E, "model `{name}` extends `{parent}`, which is not defined in this site")
INHERITANCE_CYCLE = Code("LOT117", "inheritance-cycle", E, "model `{name}` inherits from itself: {cycle}")
UNKNOWN_SCRIPT = Code("LOT118", "unknown-script", E, "no Python script named `{name}` in this site")
UNKNOWN_FUNCTION = Code("LOT119", "unknown-function", E, "script `{script}` defines no function `{name}`")
ARITY_MISMATCH = Code("LOT120", "arity-mismatch", E, "`{target}` takes {expected}, but {given} {verb} given")
BAD_PYTHON_TARGET = Code("LOT121", "bad-python-target", E, "`{target}` is not of the form `Script.function`")
DUPLICATE_INPUT = Code("LOT122", "duplicate-input", E, "input `{name}` is declared more than once")
OUTPUT_NEVER_SET = Code("LOT123", "output-never-set", E, "output `{name}` is never set in the body of `{action}`")
SCRIPT_SYNTAX = Code("LOT124", "python-syntax", E, "Python script `{name}` does not parse: {reason}")
DUPLICATE_SCRIPT = Code("LOT125", "duplicate-script", E, "Python script `{name}` is defined more than once")
IMPOSSIBLE_OPERATION = Code("LOT130", "impossible-operation", E, "`{operator}` cannot apply to {operands}")
FIELD_TYPE_MISMATCH = Code("LOT131", "field-type-mismatch", E, "{found} cannot fit field `{name}` of type {expected}")
IMPOSSIBLE_CAST = Code("LOT132", "impossible-cast", E, "{value} can never be read as {type}")
INPUT_TYPE_MISMATCH = Code("LOT133", "input-type-mismatch", E, "{found} cannot fit input `{name}` of type {expected}")
POSITION_OUT_OF_RANGE = Code("LOT140", "topic-position-out-of-range", E, "`TOPIC POSITION {index}` is deeper than the trigger filter `{filter}` ({depth})")
POSITION_UNDER_WILDCARD = Code("LOT141", "topic-position-under-wildcard", W, "`TOPIC POSITION {index}` reads a level matched by `#` in `{filter}`; it may not exist")

# --- configuration of routes, models and rules ------------------------------
MISPLACED_BLOCK = Code("LOT201", "misplaced-route-block", E, "`ADD {kind}` cannot stand {place}")
UNKNOWN_ROUTE_TYPE = Code("LOT202", "unknown-route-type", E, "unknown route type `{name}`")
UNKNOWN_CONFIG_BLOCK = Code("LOT203", "unknown-config-block", E, "a `{route_type}` route has no `{block}` block")
UNKNOWN_SETTING = Code("LOT204", "unknown-setting", E, "`{block}` has no setting `{key}`")
MISSING_SETTING = Code("LOT205", "missing-setting", E, "`{block}` needs {keys}")
BAD_SETTING_VALUE = Code("LOT206", "bad-setting-value", E, "`{key}` {problem}")
LITERAL_SECRET = Code("LOT207", "literal-secret", W, "`{key}` is written in plain text in the source")
DUPLICATE_SETTING = Code("LOT208", "duplicate-setting", E, "`{key}` is set more than once in `{block}`")
MISSING_BLOCK = Code("LOT209", "missing-block", E, "a `{route_type}` route needs an `ADD {block}` block")
DUPLICATE_BLOCK_NAME = Code("LOT210", "duplicate-block-name", E, "`{kind} {name}` is defined more than once in route `{route}`")
UNKNOWN_RULE_SCOPE = Code("LOT211", "unknown-rule-scope", E, "unknown rule scope `{name}`")
UNKNOWN_PERMISSION = Code("LOT212", "unknown-permission", W, "`{name}` is not a built-in permission")
RESERVED_PRIORITY = Code("LOT213", "reserved-priority", W, "priority {priority} is reserved for the broker (0-99)")
DUPLICATE_MODEL_OPTION = Code("LOT214", "duplicate-model-option", E, "model option `{option}` is given more than once")
RULE_WITHOUT_SCOPE = Code("LOT215", "rule-without-scope", E, "rule `{name}` has no `FOR` scope")

# --- topics and the site graph ----------------------------------------------
INVALID_FILTER = Code("LOT301", "invalid-topic-filter", E, "`{topic}` is not a valid MQTT topic filter: {reason}")
WILDCARD_TARGET = Code("LOT302", "wildcard-in-target", E, "`{topic}` does not name one topic: {reason}")
EMPTY_TOPIC_LEVEL = Code("LOT303", "empty-topic-level", W, "`{topic}` has an empty topic level")
BAD_PLACEHOLDER = Code("LOT304", "bad-placeholder", E, "`{placeholder}` is not a route placeholder")
PLACEHOLDER_POSITION = Code("LOT305", "placeholder-position-out-of-range", E, "`{placeholder}` is deeper than the source topic `{filter}` ({depth} levels)")
SQL_IDENTIFIER_PLACEHOLDER = Code("LOT306", "placeholder-in-sql-identifier", E, "`{placeholder}` stands where SQL expects a name, so it cannot be bound as a value")
PUBLISH_LOOP = Code("LOT310", "publish-loop", E, "action `{name}` publishes to `{topic}`, which triggers it again")
PUBLISH_CYCLE = Code("LOT311", "publish-cycle", W, "messages can go round in a cycle: {cycle}")
BRIDGE_LOOP = Code("LOT312", "bridge-loop", E, "mapping `{mapping}` forwards `{topic}` back into its own source")
NOTHING_TO_STORE = Code("LOT313", "nothing-to-store", W, "route `{name}` stores nothing: {reason}")
OPEN_ENDPOINT = Code("LOT314", "open-http-endpoint", W, "route `{name}` serves HTTP on port {port} to anyone who reaches it")

# --- code generation ----------------------------------------------------------
UNSUPPORTED_ROUTE_TYPE = Code("LOT401", "unsupported-route-type", E, "route type `{route_type}` is not supported by the Python back end yet")
UNSUPPORTED_TRIGGER = Code("LOT402", "unsupported-trigger", E, "`{trigger}` cannot run outside a Coreflux broker")
UNSUPPORTED_STATEMENT = Code("LOT403", "unsupported-construct", E, "{construct} is not supported by the Python back end yet")
UNSUPPORTED_MODEL = Code("LOT404", "unsupported-model-form", E, "model `{name}`: {form} is not supported by the Python back end yet")
RULE_NOT_COMPILED = Code("LOT405", "rule-not-compiled", W, "rule `{name}` is not compiled into the broker policy: {reason}")
MODULE_NAME_CLASH = Code("LOT406", "module-name-clash", E, "{kind} `{name}` and `{other}` would both be generated as `{module}`")
BAD_SITE_TOML = Code("LOT407", "bad-site-toml", E, "site.toml: {reason}")
BAD_DEVICE_ADDRESS = Code("LOT410", "bad-device-address", E, "tag `{name}`: {problem}")
OVERLAPPING_ADDRESSES = Code("LOT411", "overlapping-addresses", E, "tag `{name}` overlaps tag `{other}` at {table} {address}")
TYPE_WIDTH_MISMATCH = Code("LOT412", "type-width-mismatch", E, "tag `{name}`: {problem}")
READ_ONLY_TAG = Code("LOT413", "read-only-tag", E, "tag `{name}` is WRITABLE, but {table} cannot be written")

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
