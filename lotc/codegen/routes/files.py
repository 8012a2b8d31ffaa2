"""Lowering of FILE_STORAGE routes to ``FileRoute``.

Input: a checked FILE_STORAGE route and its site.  Output: its ``RouteView``
with the FILE_STORAGE_CONFIG settings (``STORAGE_DIR`` or ``PATH``,
``FILE_PATTERN``, ``FORMAT``, ``CSV_DELIMITER``, ``APPEND``,
``INCLUDE_TIMESTAMP``, ``MAX_RECORDS``, ``DATE_FORMAT``) and one event per
thing to store, in source order:

- ``ADD EVENT`` with ``QUERY "CLEAN:{table: t, data: {value.json}}"``: a
  ``StoreEvent`` of table ``t``; with no QUERY, the whole payload in a
  table named after the event;
- ``ADD EVENT`` with the plugin's ``QUERY "APPEND <file> <line>"``: an
  ``AppendEvent``; any other QUERY is LOT206;
- an older ``ADD MAPPING`` (``TOPIC``, ``TABLE_NAME``): a ``StoreEvent``;
- ``STORE <this route> WITH TABLE_NAME "t"`` in another route of the site
  (the older way to keep what a bridge brings in): a ``StoreEvent`` of
  ``t`` for every topic that route publishes.

A route left with nothing to store, or a STORE from a route that publishes
nothing on the site's broker, is LOT313 (a warning: the site still builds).
"""

from __future__ import annotations

import re

from lotc.codegen.routes import ROUTE_LOWERINGS, RouteView, new_view, register
from lotc.codegen.routes.tags import config_text, settings_imports
from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.placeholders import parse_clean
from lotc.frontend.route_schemas import (
    ResolvedBlock,
    blocks_of,
    resolve_block,
    resolve_settings,
    route_schema,
)
from lotc.frontend.site import Site

_INDENT = "    "
# FILE_STORAGE_CONFIG key -> FileRoute argument, and how a literal is written.
_CONFIG = (
    ("FILE_PATTERN", "pattern", "text"),
    ("FORMAT", "fmt", "upper"),
    ("CSV_DELIMITER", "delimiter", "text"),
    ("APPEND", "append", "flag"),
    ("INCLUDE_TIMESTAMP", "include_timestamp", "flag"),
    ("MAX_RECORDS", "max_records", "int"),
    ("DATE_FORMAT", "date_format", "text"),
)
_APPEND = re.compile(r"\s*APPEND\s+(\S+)\s+(.*)", re.DOTALL)


@register("FILE_STORAGE")
def lower_files(route: ast.Route, site: Site) -> tuple[RouteView, list[Diagnostic]]:
    view = new_view(route, "FILE_STORAGE")
    view.extras = []
    config = resolve_settings(route, "FILE_STORAGE_CONFIG")
    arguments = [f"name={route.name.text!r}"]
    arguments.append(f"folder={config_text(config['STORAGE_DIR'])}")
    for key, name, kind in _CONFIG:
        value = config.get(key)
        if isinstance(value, ast.SettingValue) and value.kind not in ("env", "secret"):
            arguments.append(f"{name}={_literal(value.text, kind)}")
    problems: list[Diagnostic] = []
    events: list[tuple[ast.Span, str]] = []
    for block, resolved in _blocks(route, "EVENT"):
        lowered = _event(block, resolved, problems)
        if lowered is not None:
            events.append((block.span, lowered))
    for block, resolved in _blocks(route, "MAPPING"):
        table = _text(resolved, "TABLE_NAME") or resolved.name or "records"
        source = _text(resolved, "TOPIC")
        events.append((block.span, _store(resolved.name or table, source, table)))
    events.sort(key=lambda pair: (pair[0].line, pair[0].column))
    others, empty = _stored_by_others(route, site)
    stored = [text for _, text in events] + others
    problems.extend(empty)
    own = blocks_of(route, "EVENT") + blocks_of(route, "MAPPING")
    if not own and not others and not empty:
        problems.append(
            messages.NOTHING_TO_STORE.at(
                route.name.span,
                name=route.name.text,
                reason="it has no EVENT or MAPPING, and no route of the site "
                "STOREs into it",
                help="add an event: `ADD EVENT Readings` with `WITH SOURCE_TOPIC` "
                'and `WITH QUERY "CLEAN:{table: readings, data: {value.json}}"`',
            )
        )
    inner = "".join(f"\n{_INDENT * 2}{text}," for text in stored)
    arguments.append(f"events=({inner}\n{_INDENT})")
    listed = "".join(f"\n{_INDENT}{a}," for a in arguments)
    view.constructor = f"FileRoute({listed}\n)"
    classes = {"FileRoute"} | {text.split("(", 1)[0] for text in stored}
    view.imports = sorted(
        [f"from lot_runtime.routes.files import {', '.join(sorted(classes))}"]
        + settings_imports(view.constructor)
    )
    view.route_class = "FileRoute"
    view.reads = sorted(set(re.findall(r"source='([^']*)'", view.constructor)))
    return view, problems


def _event(
    block: ast.RouteBlock, resolved: ResolvedBlock, problems: list[Diagnostic]
) -> str | None:
    name = resolved.name or "event"
    source = _text(resolved, "SOURCE_TOPIC")
    query = _text(resolved, "QUERY")
    if not query:
        return _store(name, source, name)
    clean = parse_clean(query)
    if clean is not None:
        table, data = clean
        return _store(name, source, table, data.name)
    append = _APPEND.fullmatch(query)
    if append is not None:
        file, line = append.groups()
        return (
            f"AppendEvent(name={name!r}, source={source!r}, file={file!r}, "
            f"line={line!r})"
        )
    value = resolved.settings["QUERY"]
    span = value.span if isinstance(value, ast.SettingValue) else block.span
    problems.append(
        messages.BAD_SETTING_VALUE.at(
            span,
            key="QUERY",
            problem="is not something a FILE_STORAGE route can store",
            help='write `QUERY "CLEAN:{table: readings, data: {value.json}}"` to '
            'keep the payload\'s JSON in a table, or `QUERY "APPEND <file> <line>"` '
            "to add a line to a file",
        )
    )
    return None


def _store(name: str, source: str, table: str, data: str = "value.json") -> str:
    fields = f"name={name!r}, source={source!r}, table={table!r}"
    if data != "value.json":
        fields += f", data={data!r}"
    return f"StoreEvent({fields})"


def _stored_by_others(
    route: ast.Route, site: Site
) -> tuple[list[str], list[Diagnostic]]:
    """Events for ``STORE <route> WITH TABLE_NAME`` in the site's other
    routes: every topic such a route publishes goes to that table.  LOT313
    for a STORE whose route publishes nothing on the site's broker."""
    found: list[str] = []
    empty: list[Diagnostic] = []
    for other in site.routes.values():
        for item in other.items:
            if not isinstance(item, ast.RouteStore) or item.route != route.name.text:
                continue
            schema = route_schema(other.route_type)
            lowering = ROUTE_LOWERINGS.get(schema.type) if schema else None
            if lowering is None or other is route:
                continue
            topics = lowering(other, site)[0].writes
            table = item.value.value
            found += [
                _store(f"{other.name.text}.{table}", topic, table) for topic in topics
            ]
            if not topics:
                empty.append(
                    messages.NOTHING_TO_STORE.at(
                        item.span,
                        name=route.name.text,
                        reason=f"route `{other.name.text}` STOREs into it but "
                        "publishes nothing on the site's broker",
                        help="a bridge brings messages in when the site's broker "
                        "(`BROKER SELF`) is the side its mappings write to",
                    )
                )
    return found, empty


def _blocks(route: ast.Route, kind: str) -> list[tuple[ast.RouteBlock, ResolvedBlock]]:
    schema = route_schema(route.route_type)
    block_schema = schema.block(kind) if schema else None
    return [(b, resolve_block(block_schema, b)) for b in blocks_of(route, kind)]


def _text(block: ResolvedBlock, key: str) -> str:
    value = block.settings.get(key)
    return value.text if isinstance(value, ast.SettingValue) else ""


def _literal(text: str, kind: str) -> str:
    if kind == "flag":
        return repr(text.strip().lower() in ("true", "1", "yes", "on"))
    if kind == "int":
        return repr(int(float(text)))
    if kind == "upper":
        return repr(text.upper())
    return repr(text)
