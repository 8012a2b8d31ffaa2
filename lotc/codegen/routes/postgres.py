"""Lowering of the SQL routes: POSTGRESQL and TIMESCALEDB to
``PostgresRoute``, MYSQL and MARIADB to ``MysqlRoute``.

Input: a checked SQL route (LOT306 has already refused placeholders where
SQL wants a name).  Output: a ``RouteView`` whose constructor holds the
SQL_CONFIG settings the source writes (literals, ``Env`` / ``Secret``; the
runtime supplies the defaults) and one event per ``ADD EVENT``, in source
order: an ``SqlEvent`` with the query rewritten by ``analyse_query`` (every
placeholder a ``$n`` parameter, its placeholders and template listed), or a
``CleanEvent`` for the ``CLEAN:{table: t, data: {...}}`` form.  ``reads`` are
the events' SOURCE_TOPICs; ``writes`` their DESTINATION_TOPICs, with a level
that holds a placeholder written ``+``.

For MySQL and MariaDB the parameters are written ``%s``, the driver's
marker, and every ``%`` of the SQL itself is doubled so that the driver
reads it as a percent sign.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lotc.codegen.routes import RouteView, new_view, register
from lotc.frontend import ast
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.placeholders import analyse_query, find_placeholders, parse_clean
from lotc.frontend.route_schemas import (
    Default,
    ResolvedBlock,
    resolve_named_blocks,
    resolve_settings,
)
from lotc.frontend.site import Site

# SQL_CONFIG key -> PostgresRoute argument, and how a literal is written.
_CONFIG_FIELDS = (
    ("SERVER", "server", "text"),
    ("PORT", "port", "int"),
    ("DATABASE", "database", "text"),
    ("USERNAME", "username", "text"),
    ("PASSWORD", "password", "text"),
    ("USE_SSL", "use_ssl", "flag"),
    ("TRUST_SERVER_CERTIFICATE", "trust_server_certificate", "flag"),
    ("SCHEMA", "schema", "text"),
    ("CONNECTION_STRING", "connection_string", "text"),
)
_INDENT = "    "


@dataclass(frozen=True)
class _Dialect:
    """What differs between the databases: the runtime class, its module
    and extra, and how a parameter is written in the SQL."""

    route_class: str
    module: str
    extra: str
    marker: Callable[[int], str]
    escape: Callable[[str], str] = lambda sql: sql


_POSTGRES = _Dialect("PostgresRoute", "postgres", "postgres", lambda i: f"${i}")
_MYSQL = _Dialect(
    "MysqlRoute", "mysql", "mysql", lambda i: "%s", lambda sql: sql.replace("%", "%%")
)


@register("POSTGRESQL", "TIMESCALEDB")
def lower_postgres(route: ast.Route, site: Site) -> tuple[RouteView, list[Diagnostic]]:
    schema_type = "TIMESCALEDB" if route.route_type == "TIMESCALEDB" else "POSTGRESQL"
    return _lower_sql(route, schema_type, _POSTGRES)


@register("MYSQL", "MARIADB")
def lower_mysql(route: ast.Route, site: Site) -> tuple[RouteView, list[Diagnostic]]:
    schema_type = "MARIADB" if route.route_type == "MARIADB" else "MYSQL"
    return _lower_sql(route, schema_type, _MYSQL)


def _lower_sql(
    route: ast.Route, schema_type: str, dialect: _Dialect
) -> tuple[RouteView, list[Diagnostic]]:
    view = new_view(route, schema_type)
    config = resolve_settings(route, "SQL_CONFIG")
    events = resolve_named_blocks(route, "EVENT")

    arguments = [f"name={route.name.text!r}"]
    for key, name, kind in _CONFIG_FIELDS:
        value = config.get(key)
        if value is None or isinstance(value, Default):
            continue  # the runtime's default, documented in semantics.md
        arguments.append(f"{name}={_value_text(value, kind)}")
    lowered = [_event(block, dialect) for block in events]
    arguments.append(_tuple("events", [text for text, _ in lowered], 1))

    classes = {dialect.route_class} | {cls for _, cls in lowered}
    if any("SqlParameter(" in text for text, _ in lowered):
        classes.add("SqlParameter")
    view.imports = [
        f"from lot_runtime.routes.{dialect.module} import {', '.join(sorted(classes))}"
    ]
    used = [n for n in ("Env", "Secret") if any(f"={n}(" in a for a in arguments)]
    if used:
        view.imports.insert(0, f"from lot_runtime.routes import {', '.join(used)}")
    view.constructor = _call(dialect.route_class, arguments, 0)
    view.extras = [dialect.extra]
    view.reads = sorted({_text(b, "SOURCE_TOPIC") for b in events} - {""})
    view.writes = sorted(
        {_as_topic(_text(b, "DESTINATION_TOPIC")) for b in events} - {""}
    )
    return view, []


def _event(block: ResolvedBlock, dialect: _Dialect) -> tuple[str, str]:
    """Python text of one EVENT, and the runtime class it names."""
    name = block.name or "?"
    source = _text(block, "SOURCE_TOPIC")
    query = _text(block, "QUERY")
    clean = parse_clean(query)
    if clean is not None:
        table, data = clean
        fields = [
            f"name={name!r}",
            f"source={source!r}",
            f"table={table!r}",
            f"data={data.name!r}",
        ]
        return _call("CleanEvent", fields, 2), "CleanEvent"

    template = analyse_query(query)
    parameters = [
        _parameter(tuple(p.name for p in parameter.placeholders), parameter.template)
        for parameter in template.parameters
    ]
    sql = template.render(dialect.marker, dialect.escape)
    fields = [f"name={name!r}", f"source={source!r}", f"sql={sql!r}"]
    if parameters:
        fields.append(_tuple("parameters", parameters, 3))
    destination = _text(block, "DESTINATION_TOPIC")
    if destination:
        fields.append(f"destination={destination!r}")
    return _call("SqlEvent", fields, 2), "SqlEvent"


def _parameter(placeholders: tuple[str, ...], template: str | None) -> str:
    if template is None:
        return f"SqlParameter({placeholders!r})"
    return f"SqlParameter({placeholders!r}, template={template!r})"


def _call(function: str, arguments: list[str], depth: int) -> str:
    inner = "".join(f"\n{_INDENT * (depth + 1)}{a}," for a in arguments)
    return f"{function}({inner}\n{_INDENT * depth})"


def _tuple(name: str, items: list[str], depth: int) -> str:
    inner = "".join(f"\n{_INDENT * (depth + 1)}{item}," for item in items)
    return f"{name}=({inner}\n{_INDENT * depth})"


def _text(block: ResolvedBlock, key: str) -> str:
    value = block.settings.get(key)
    if isinstance(value, ast.SettingValue):
        return value.text
    return ""


def _as_topic(topic: str) -> str:
    """A destination as the manifest lists it: placeholder levels are ``+``."""
    if not topic:
        return ""
    return "/".join(
        "+" if find_placeholders(level) else level for level in topic.split("/")
    )


def _value_text(value: ast.SettingValue, kind: str) -> str:
    """A literal as the runtime wants it (ports as ints, flags as bools);
    GET ENV / GET SECRET as ``Env`` / ``Secret``."""
    if value.kind == "env":
        return f"Env({value.text!r})"
    if value.kind == "secret":
        return f"Secret({value.text!r})"
    if kind == "int" and value.text.strip().isdigit():
        return str(int(value.text))
    if kind == "flag":
        return repr(value.text.strip().lower() in ("true", "1", "yes", "on"))
    return repr(value.text)
