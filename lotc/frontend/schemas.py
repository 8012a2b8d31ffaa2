"""Route, model and rule configuration checked against declared schemas.

Input: a ``Site``.  Output: diagnostics for configuration the broker would
reject or misread: route blocks in the wrong place, unknown route types,
blocks and keys, missing required keys and blocks, values of the wrong kind
or out of range, keys set twice, sub-blocks named twice, secrets written in
the source, placeholders in route strings (``lotc.frontend.placeholders``),
model header options given twice, and rule scopes, permissions and
priorities.  The schemas themselves are data in
``lotc.frontend.route_schemas``.

Afterwards, a route without errors has a known type, every block belongs to
that type, every key is one its block takes (possibly under an alias), every
required key and block is present, and every literal value fits its kind.
Values written with GET ENV / GET SECRET are resolved at load time and are
not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lotc.frontend import ast, messages, placeholders
from lotc.frontend.diagnostics import Diagnostic, Label, Span
from lotc.frontend.route_schemas import (
    BOOLEAN,
    CATALOGUE,
    CHOICE,
    EVERY,
    INTEGER,
    NUMBER,
    ROUTE_TYPES,
    SELF,
    TEMPLATE,
    TOPIC,
    BlockSchema,
    Default,
    RouteSchema,
    resolve_settings,
    route_schema,
)
from lotc.frontend.rule_vocabulary import check_rule
from lotc.frontend.site import Site
from lotc.frontend.suggest import did_you_mean

__all__ = ["Default", "check_configuration", "resolve_settings", "route_schema"]

_LITERALS = frozenset({"string", "quoted", "number", "word", "boolean"})
_SECRET_KEYS = frozenset(
    {"PASSWORD", "API_KEY", "CLIENT_CERT_PASS", "AUTHORIZATION", "TOKEN", "SECRET"}
)
_SECRET_SUFFIXES = ("_PASSWORD", "_PASS", "_TOKEN", "_SECRET", "_API_KEY")
_CREDENTIALS_IN_URL = re.compile(r"://[^/:@\s]+:[^@\s]+@|password\s*=", re.IGNORECASE)
_OPEN_BLOCK = BlockSchema("", open=True)


def check_configuration(site: Site) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for entity in site.entities():
        if isinstance(entity, ast.Route):
            found.extend(_route_nesting(entity))
            found.extend(_check_route(entity))
        elif isinstance(entity, ast.Model):
            found.extend(_duplicate_model_options(entity))
        elif isinstance(entity, ast.Rule):
            found.extend(check_rule(entity))
    return found


def _route_nesting(route: ast.Route) -> list[Diagnostic]:
    """TAG blocks live inside MAPPING blocks; every other block at route level."""
    found = []
    for item in route.items:
        if not isinstance(item, ast.RouteBlock):
            continue
        if item.kind == "TAG":
            found.append(
                messages.MISPLACED_BLOCK.at(
                    item.span,
                    kind="TAG",
                    place="directly in a route",
                    help="indent it under an `ADD MAPPING name` block",
                )
            )
        for inner in item.items:
            if isinstance(inner, ast.RouteBlock) and (
                inner.kind != "TAG" or item.kind != "MAPPING"
            ):
                found.append(
                    messages.MISPLACED_BLOCK.at(
                        inner.span,
                        kind=inner.kind,
                        place=f"inside `ADD {item.kind}`",
                        help="only `ADD TAG` nests, and only inside `ADD MAPPING`",
                    )
                )
    return found


# ------------------------------------------------------------- spans
# The AST keeps the span of a whole setting, block or header; the key, the
# block kind and the route type stand one space after the word before them,
# as LoT is written (and as `lotc fmt` prints it).


def key_span(setting: ast.Setting) -> Span:
    start = setting.span.column + len("WITH ")
    return Span.point(setting.span.file, setting.span.line, start, len(setting.key))


def block_kind_span(block: ast.RouteBlock) -> Span:
    start = block.span.column + len("ADD ")
    return Span.point(block.span.file, block.span.line, start, len(block.kind))


def block_header_span(block: ast.RouteBlock) -> Span:
    """``ADD KIND name``: where a whole block is reported."""
    span = block.span
    end = (
        block.name.span.end_column if block.name else span.column + 4 + len(block.kind)
    )
    return Span(span.file, span.line, span.column, span.line, end)


def type_span(route: ast.Route) -> Span:
    name = route.name.span
    start = name.end_column + len(" WITH TYPE ")
    return Span.point(name.file, name.line, start, len(route.route_type or ""))


# ------------------------------------------------------------- routes


def _check_route(route: ast.Route) -> Iterator[Diagnostic]:
    if route.route_type is None:
        return
    schema = route_schema(route.route_type)
    if schema is None:
        yield messages.UNKNOWN_ROUTE_TYPE.at(
            type_span(route),
            name=route.route_type,
            help=did_you_mean(route.route_type, ROUTE_TYPES)
            or "known types include `POSTGRESQL`, `MODBUS_TCP`, `OPCUA`, `MQTT_BRIDGE`",
        )
        return

    yield from _route_level_settings(route, schema)
    for item in route.items:
        if isinstance(item, ast.RouteBlock):
            yield from _check_block(route, schema, item)
        elif isinstance(item, ast.RouteStore):
            yield from _check_store(item)
    yield from _missing_blocks(route, schema)
    yield from _duplicate_names(route, route.items, ("MAPPING", "EVENT"))


def _route_level_settings(
    route: ast.Route, schema: RouteSchema
) -> Iterator[Diagnostic]:
    """Settings written directly under DEFINE ROUTE fill the type's own block."""
    settings = [i for i in route.items if isinstance(i, ast.Setting)]
    if not settings:
        return
    primary = schema.primary
    if primary is None and not schema.open:
        for setting in settings:
            yield messages.UNKNOWN_SETTING.at(
                key_span(setting),
                block=f"DEFINE ROUTE {route.name.text}",
                key=setting.key,
                help="put the setting in one of the route's `ADD ..._CONFIG` blocks",
            )
        return
    yield from _check_settings(route, schema, primary or _OPEN_BLOCK, settings)


def _check_store(store: ast.RouteStore) -> Iterator[Diagnostic]:
    if store.key in ("TABLE_NAME", "INDEX_NAME"):
        return
    column = store.span.column + len(f"STORE {store.route} WITH ")
    yield messages.UNKNOWN_SETTING.at(
        Span.point(store.span.file, store.span.line, column, len(store.key)),
        block="STORE",
        key=store.key,
        help=did_you_mean(store.key, ("TABLE_NAME", "INDEX_NAME"))
        or "`STORE Route` takes `WITH TABLE_NAME` or `WITH INDEX_NAME`",
    )


def _check_block(route, schema: RouteSchema, block: ast.RouteBlock, parent=None):
    if block.kind in ("TAG", "METADATA") and parent is None:
        return  # reported as LOT201 and LOT016
    block_schema = _block_schema(schema, block, parent)
    if block_schema is None:
        yield _unknown_block(route, schema, block, parent)
        return

    settings = [i for i in block.items if isinstance(i, ast.Setting)]
    yield from _check_settings(route, schema, block_schema, settings)
    yield from _missing_settings(block_schema, block, settings)
    yield from _check_strings(schema, block_schema, settings)
    if block.kind == "MAPPING":
        tags = [
            i for i in block.items if isinstance(i, ast.RouteBlock) and i.kind == "TAG"
        ]
        for tag in tags:
            yield from _check_block(route, schema, tag, block_schema)
        yield from _duplicate_names(route, tags, ("TAG",))


def _block_schema(schema: RouteSchema, block: ast.RouteBlock, parent):
    if parent is not None:
        return parent.child(block.kind) or (_OPEN_BLOCK if parent.open else None)
    if schema.open:
        return schema.block(block.kind) or _OPEN_BLOCK
    return schema.block(block.kind)


def _unknown_block(route, schema: RouteSchema, block: ast.RouteBlock, parent):
    spellings = [] if parent else schema.block_spellings()
    owners = sorted(
        name
        for name, other in CATALOGUE.items()
        if other.block(block.kind) is not None
        and block.kind.endswith("_CONFIG")
        and block.kind not in ("ROUTE_CONFIG", "MQTT_CONFIG")
    )
    help = None
    if owners:
        own = [b.kind for b in schema.blocks if b.kind.endswith("_CONFIG")]
        help = (
            f"`{block.kind}` belongs to {_listed(owners[:3])} routes; "
            f"a `{schema.type}` route takes {_listed(own[:1])}"
        )
    help = help or did_you_mean(block.kind, spellings)
    return messages.UNKNOWN_CONFIG_BLOCK.at(
        block_kind_span(block),
        route_type=schema.type,
        block=block.kind,
        help=help or f"a `{schema.type}` route takes {_listed(_block_list(schema))}",
    )


def _block_list(schema: RouteSchema) -> list[str]:
    return [b.kind for b in schema.blocks]


def _listed(names: list[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


# ------------------------------------------------------------- settings


def _check_settings(route, schema: RouteSchema, block: BlockSchema, settings):
    first: dict[str, ast.Setting] = {}
    block_name = block.kind or "this block"
    for setting in settings:
        key = block.key(setting.key)
        if key is None and not block.open:
            yield _unknown_key(schema, block, setting)
            continue
        canonical = key.name if key else setting.key
        if canonical in first:
            yield _duplicate_key(block_name, first[canonical], setting, canonical)
            continue
        first[canonical] = setting
        if key is not None:
            problem = _value_problem(key, setting.value)
            if problem:
                text, help = problem
                yield messages.BAD_SETTING_VALUE.at(
                    setting.value.span, key=setting.key, problem=text, help=help
                )
        if _is_literal_secret(canonical, setting.value):
            yield _literal_secret(route, setting, canonical)


def _unknown_key(schema: RouteSchema, block: BlockSchema, setting: ast.Setting):
    help = did_you_mean(setting.key, block.spellings())
    if help is None:
        homes = [b.kind for b in schema.blocks if b is not block and b.key(setting.key)]
        if homes:
            help = f"`{setting.key}` belongs in `ADD {homes[0]}`"
    if help is None:
        keys = [k.name for k in block.keys]
        help = f"`{block.kind}` takes " + ", ".join(f"`{k}`" for k in keys)
    return messages.UNKNOWN_SETTING.at(
        key_span(setting), block=block.kind, key=setting.key, help=help
    )


def _duplicate_key(block_name, earlier: ast.Setting, later: ast.Setting, canonical):
    notes = ()
    if earlier.key != later.key:
        alias = later.key if later.key != canonical else earlier.key
        notes = (f"`{alias}` is another name for `{canonical}`",)
    return messages.DUPLICATE_SETTING.at(
        key_span(later),
        key=later.key,
        block=block_name,
        labels=(Label(key_span(earlier), "first set here"),),
        notes=notes,
        help="keep one of them; the broker would use only one",
    )


def _value_problem(key, value: ast.SettingValue) -> tuple[str, str | None] | None:
    """What is wrong with a literal value for ``key``, and a hint."""
    if value.kind in ("env", "secret"):
        return None
    if key.kind == SELF or value.kind == "self":
        if key.kind == SELF and value.kind == "self":
            return None
        if key.kind == SELF:
            return (
                "only takes `SELF`",
                "write `WITH BROKER SELF` for the hosting broker",
            )
        return "cannot be `SELF`", "only `WITH BROKER SELF` names the hosting broker"
    if key.kind == EVERY or value.kind == "every":
        if key.kind == EVERY and value.kind == "every":
            if _as_number(value.text) == 0:
                return (
                    "must be longer than 0",
                    "write a polling period, e.g. `WITH EVERY 1 SECOND`",
                )
            return None
        return (
            f"is not a polling interval, found {_shown(value)}",
            "only a `MAPPING` polls",
        )
    if key.kind in (INTEGER, NUMBER):
        return _number_problem(key, value)
    if key.kind == BOOLEAN and value.text.lower() not in ("true", "false"):
        return (
            f"must be `true` or `false`, found {_shown(value)}",
            "write `true` or `false`",
        )
    if key.kind == CHOICE:
        return _choice_problem(key, value)
    return None


def _number_problem(key, value: ast.SettingValue):
    number = _as_number(value.text) if value.kind != "boolean" else None
    whole = number is not None and float(number).is_integer()
    default = f"; without it the route uses {key.default}" if key.default else ""
    if number is None or (key.kind == INTEGER and not whole):
        kind = "a whole number" if key.kind == INTEGER else "a number"
        return f"must be {kind}, found {_shown(value)}", f"write {kind}{default}"
    low, high = key.low, key.high
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"between {_plain(low)} and {_plain(high)}"
        taken = f"{_plain(low)} to {_plain(high)}"
        if high is None:
            bounds, taken = f"at least {_plain(low)}", f"{_plain(low)} or more"
        return (
            f"must be {bounds}, found {value.text}",
            f"`{key.name}` takes {taken}{default}",
        )
    return None


def _choice_problem(key, value: ast.SettingValue):
    by_fold = {c.casefold(): c for c in key.choices}
    if value.text.casefold() in by_fold:
        return None
    help = did_you_mean(value.text, key.choices, quote="`")
    if len(key.choices) <= 6:
        listed = ", ".join(f"`{c}`" for c in key.choices)
        return f"must be one of {listed}, found {_shown(value)}", help
    return (
        f"has no value {_shown(value)}",
        help or f"see the `{key.name}` values in the LoT reference",
    )


def _as_number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def _plain(bound) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _shown(value: ast.SettingValue) -> str:
    if value.kind == "string":
        return f'`"{value.text}"`'
    if value.kind == "quoted":
        return f"`'{value.text}'`"
    return f"`{value.text}`"


def _is_literal_secret(canonical: str, value: ast.SettingValue) -> bool:
    if value.kind not in _LITERALS or not value.text:
        return False
    if canonical in _SECRET_KEYS or canonical.endswith(_SECRET_SUFFIXES):
        return True
    return canonical == "CONNECTION_STRING" and bool(
        _CREDENTIALS_IN_URL.search(value.text)
    )


def _literal_secret(route: ast.Route, setting: ast.Setting, canonical: str):
    secret = re.sub(r"[^A-Z0-9]+", "_", f"{route.name.text}_{canonical}".upper())
    return messages.LITERAL_SECRET.at(
        setting.value.span,
        key=setting.key,
        help=f'write `WITH {setting.key} GET SECRET "{secret}"` and keep the value '
        "in the broker's secret store",
        notes=("anyone who can read the source or the deployed route sees it",),
    )


def _missing_settings(block_schema: BlockSchema, block: ast.RouteBlock, settings):
    present = {
        block_schema.key(s.key).name for s in settings if block_schema.key(s.key)
    }
    if block_schema.broker_self and any(s.value.kind == "self" for s in settings):
        return
    for group in block_schema.requirements():
        if present.intersection(group):
            continue
        keys = " or ".join(f"`WITH {k}`" for k in group)
        help = f"add `WITH {group[0]} ...` under `ADD {block.kind}`"
        if block_schema.broker_self:
            help += ", or `WITH BROKER SELF` for the hosting broker"
        yield messages.MISSING_SETTING.at(
            block_header_span(block), block=_block_title(block), keys=keys, help=help
        )


def _block_title(block: ast.RouteBlock) -> str:
    return f"{block.kind} {block.name.text}" if block.name else block.kind


def _check_strings(schema: RouteSchema, block_schema: BlockSchema, settings):
    """Placeholders in the block's template strings, against its SOURCE_TOPIC."""
    source = None
    for setting in settings:
        key = block_schema.key(setting.key)
        if (
            key
            and key.name in ("SOURCE_TOPIC", "TOPIC")
            and setting.value.kind == "string"
        ):
            source = setting.value.text
    for setting in settings:
        key = block_schema.key(setting.key)
        if key is None or key.kind not in (TEMPLATE, TOPIC):
            continue
        yield from placeholders.check_string(
            setting.value,
            source_filter=source,
            file_pattern=key.name == "FILE_PATTERN",
            sql=schema.sql and key.name == "QUERY",
        )


# ------------------------------------------------------------- blocks


def _missing_blocks(route: ast.Route, schema: RouteSchema) -> Iterator[Diagnostic]:
    blocks = [i for i in route.items if isinstance(i, ast.RouteBlock)]
    present = {schema.block(b.kind).kind for b in blocks if schema.block(b.kind)}
    if schema.primary is not None and _has_settings(route):
        present.add(schema.primary.kind)  # the compact form: settings in the route
    for required in schema.required_blocks:
        if required in present:
            continue
        yield messages.MISSING_BLOCK.at(
            route.name.span,
            route_type=schema.type,
            block=required,
            help=f"add `ADD {required}` with the connection settings",
        )


def _has_settings(route: ast.Route) -> bool:
    return any(isinstance(i, ast.Setting) for i in route.items)


def _duplicate_names(route: ast.Route, items, kinds) -> Iterator[Diagnostic]:
    seen: dict[tuple[str, str], ast.RouteBlock] = {}
    for item in items:
        if (
            not isinstance(item, ast.RouteBlock)
            or item.kind not in kinds
            or not item.name
        ):
            continue
        key = (item.kind, item.name.text)
        if key not in seen:
            seen[key] = item
            continue
        yield messages.DUPLICATE_BLOCK_NAME.at(
            item.name.span,
            kind=item.kind,
            name=item.name.text,
            route=route.name.text,
            labels=(Label(seen[key].name.span, "first defined here"),),
            help=f"give each `{item.kind}` its own name",
        )


# ------------------------------------------------------------- models

_OPTION_WORDS = {"TOPIC": "WITH TOPIC", "FORMAT": "WITH FORMAT"}


def _duplicate_model_options(model: ast.Model) -> Iterator[Diagnostic]:
    seen: dict[str, ast.ModelOption] = {}
    for option in model.options:
        if option.kind == "AND":
            continue
        if option.kind not in seen:
            seen[option.kind] = option
            continue
        word = _OPTION_WORDS.get(option.kind, option.kind)
        yield messages.DUPLICATE_MODEL_OPTION.at(
            option.span,
            option=word,
            labels=(Label(seen[option.kind].span, "first given here"),),
            help=f"keep one `{word}`",
        )
