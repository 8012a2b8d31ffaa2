"""Lowering of REST_API routes to ``RestClientRoute`` or ``RestServerRoute``.

Input: a checked REST_API route (its placeholders already checked, LOT304
and LOT305).  Output: its ``RouteView``.  A route with ``BASE_ADDRESS``
calls that API: every event needs the ``SOURCE_TOPIC`` whose messages
trigger it (LOT205).  A route with ``SERVER_PORT`` serves HTTP: a GET event
answers with the last value of its ``SOURCE_TOPIC``, a POST, PUT, PATCH or
DELETE event publishes the request body on its ``DESTINATION_TOPIC``
(either missing is LOT205); its ENDPOINT is a fixed path, so a placeholder
there is LOT403, and two events on one path and method are LOT206.  A
server without ``AUTHORIZATION`` is LOT314, a warning: anyone who reaches
its port may read and publish through it.  A route with both settings is
LOT403: it is two routes, one of each kind.

``ENABLE_CLIENT`` changes nothing (a route with ``BASE_ADDRESS`` is a
client); ``USE_SSL`` puts ``https://`` before a BASE_ADDRESS written
without a scheme.
"""

from __future__ import annotations

from lotc.codegen.routes import RouteView, new_view, register
from lotc.codegen.routes.tags import config_text, settings_imports, text
from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.placeholders import find_placeholders
from lotc.frontend.route_schemas import (
    ResolvedBlock,
    blocks_of,
    resolve_block,
    resolve_settings,
    route_schema,
)
from lotc.frontend.site import Site

_INDENT = "    "
_SERVED_WITH_SOURCE = ("GET", "HEAD")


@register("REST_API")
def lower_rest(route: ast.Route, site: Site) -> tuple[RouteView, list[Diagnostic]]:
    view = new_view(route, "REST_API")
    view.extras = ["http"]
    config = resolve_settings(route, "REST_API_CONFIG")
    schema = route_schema(route.route_type)
    event_schema = schema.block("EVENT") if schema else None
    events = [(b, resolve_block(event_schema, b)) for b in blocks_of(route, "EVENT")]
    server = "SERVER_PORT" in config
    client = "BASE_ADDRESS" in config
    problems: list[Diagnostic] = []
    if server and client:
        problems.append(
            messages.UNSUPPORTED_STATEMENT.at(
                route.name.span,
                construct="a REST_API route with both BASE_ADDRESS and SERVER_PORT "
                "(define one route that calls the API and one that serves)",
            )
        )
        return view, problems

    arguments = [f"name={route.name.text!r}"]
    if server:
        arguments.append(f"port={config_text(config['SERVER_PORT'], whole=True)}")
        problems.extend(_server_problems(events))
        if "AUTHORIZATION" not in config:
            problems.append(_open_endpoint(route, config, events))
        route_class = "RestServerRoute"
    else:
        arguments.append(f"base_address={config_text(config['BASE_ADDRESS'])}")
        if isinstance(config.get("USE_SSL"), ast.SettingValue):
            arguments.append(f"use_ssl={config_text(config['USE_SSL'])}")
        problems.extend(_client_problems(events))
        route_class = "RestClientRoute"
    if "AUTHORIZATION" in config:
        arguments.append(f"authorization={config_text(config['AUTHORIZATION'])}")
    lowered = [_event(block) for _, block in events]
    inner = "".join(f"\n{_INDENT * 2}{item}," for item in lowered)
    arguments.append(f"events=({inner}\n{_INDENT})")
    view.constructor = _call(route_class, arguments)
    names = ", ".join(sorted((route_class, "RestEvent")))
    view.imports = sorted(
        [f"from lot_runtime.routes.rest import {names}"]
        + settings_imports(view.constructor)
    )
    view.route_class = route_class
    sources = {_text(b, "SOURCE_TOPIC") for _, b in events}
    destinations = {_as_topic(_text(b, "DESTINATION_TOPIC")) for _, b in events}
    view.reads = sorted(sources - {""})
    view.writes = sorted(destinations - {""})
    return view, problems


def _client_problems(
    events: list[tuple[ast.RouteBlock, ResolvedBlock]],
) -> list[Diagnostic]:
    return [
        messages.MISSING_SETTING.at(
            _name_span(block),
            block=f"EVENT {resolved.name}",
            keys="SOURCE_TOPIC",
            help="a route with BASE_ADDRESS makes a request for each message on "
            "the event's SOURCE_TOPIC",
        )
        for block, resolved in events
        if not _text(resolved, "SOURCE_TOPIC")
    ]


def _open_endpoint(
    route: ast.Route,
    config: dict,
    events: list[tuple[ast.RouteBlock, ResolvedBlock]],
) -> Diagnostic:
    """LOT314: a server without AUTHORIZATION answers whoever connects."""
    port = config["SERVER_PORT"]
    written = port.text if isinstance(port, ast.SettingValue) else "?"
    published = sorted(
        {
            _text(b, "DESTINATION_TOPIC")
            for _, b in events
            if _method(b) not in _SERVED_WITH_SOURCE and _text(b, "DESTINATION_TOPIC")
        }
    )
    notes = (
        (f"anyone may publish on {', '.join(f'`{t}`' for t in published)}",)
        if published
        else ()
    )
    return messages.OPEN_ENDPOINT.at(
        route.name.span,
        name=route.name.text,
        port=written,
        notes=notes,
        help='add `WITH AUTHORIZATION GET SECRET "..."` to REST_API_CONFIG: '
        "requests must then carry that Authorization header",
    )


def _server_problems(
    events: list[tuple[ast.RouteBlock, ResolvedBlock]],
) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    served: dict[tuple[str, str], str] = {}
    for block, resolved in events:
        method = _method(resolved)
        endpoint = _endpoint(resolved)
        reads = method in _SERVED_WITH_SOURCE
        needed = "SOURCE_TOPIC" if reads else "DESTINATION_TOPIC"
        if not _text(resolved, needed):
            what = (
                "answers a GET with the last value of its SOURCE_TOPIC"
                if needed == "SOURCE_TOPIC"
                else f"publishes the body of a {method} on its DESTINATION_TOPIC"
            )
            problems.append(
                messages.MISSING_SETTING.at(
                    _name_span(block),
                    block=f"EVENT {resolved.name}",
                    keys=needed,
                    help=f"a route with SERVER_PORT {what}",
                )
            )
        value = resolved.settings.get("ENDPOINT")
        span = value.span if isinstance(value, ast.SettingValue) else _name_span(block)
        if find_placeholders(endpoint):
            problems.append(
                messages.UNSUPPORTED_STATEMENT.at(
                    span, construct="a placeholder in a served ENDPOINT"
                )
            )
        other = served.setdefault((endpoint, method), resolved.name or "")
        if other != resolved.name:
            problems.append(
                messages.BAD_SETTING_VALUE.at(
                    span,
                    key="ENDPOINT",
                    problem=f"`{endpoint}` is already served for {method} by event "
                    f"`{other}`",
                    help="give each event a path of its own, or another METHOD",
                )
            )
    return problems


def _event(block: ResolvedBlock) -> str:
    fields = [f"name={block.name or '?'!r}", f"method={_method(block)!r}"]
    fields.append(f"endpoint={_endpoint(block)!r}")
    for key, name in (
        ("SOURCE_TOPIC", "source"),
        ("DESTINATION_TOPIC", "destination"),
        ("BODY", "body"),
    ):
        value = _text(block, key)
        if value:
            fields.append(f"{name}={value!r}")
    return f"RestEvent({', '.join(fields)})"


def _method(block: ResolvedBlock) -> str:
    return (text(block.settings, "METHOD") or "GET").upper()


def _endpoint(block: ResolvedBlock) -> str:
    endpoint = _text(block, "ENDPOINT").strip()
    if endpoint and not endpoint.startswith(("/", "?")):
        endpoint = "/" + endpoint
    return endpoint or "/"


def _text(block: ResolvedBlock, key: str) -> str:
    value = block.settings.get(key)
    return value.text if isinstance(value, ast.SettingValue) else ""


def _name_span(block: ast.RouteBlock) -> ast.Span:
    return block.name.span if block.name else block.span


def _as_topic(topic: str) -> str:
    """A destination as the manifest lists it: placeholder levels are ``+``."""
    if not topic:
        return ""
    return "/".join(
        "+" if find_placeholders(level) else level for level in topic.split("/")
    )


def _call(function: str, arguments: list[str]) -> str:
    inner = "".join(f"\n{_INDENT}{a}," for a in arguments)
    return f"{function}({inner}\n)"
