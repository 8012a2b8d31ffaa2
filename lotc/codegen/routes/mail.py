"""Lowering of EMAIL routes to ``MailRoute``.

Input: a checked EMAIL route (its placeholders already checked, LOT304 and
LOT305; RECIPIENT required in every event and mapping).  Output: its
``RouteView``: the SMTP_CONFIG settings the source writes (``HOST`` or
``SERVER``, ``PORT``, ``USERNAME``, ``PASSWORD``, ``USE_TLS``, ``FROM``) and
one ``MailEvent`` per ``ADD EVENT`` (``SOURCE_TOPIC``, ``RECIPIENT`` or
``TO``, ``SUBJECT``, ``BODY``) and per older ``ADD MAPPING``
(``TEMPLATE_PATH``, an HTML file on the device, instead of ``BODY``), in
source order.  An ``MQTT_CONFIG`` block changes nothing: the route reads
the site's broker.
"""

from __future__ import annotations

from lotc.codegen.routes import RouteView, new_view, register
from lotc.codegen.routes.tags import config_text, settings_imports
from lotc.frontend import ast
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.route_schemas import (
    ResolvedBlock,
    blocks_of,
    resolve_block,
    resolve_settings,
    route_schema,
)
from lotc.frontend.site import Site

_INDENT = "    "
# SMTP_CONFIG key -> MailRoute argument, and whether it is a whole number.
_CONFIG = (
    ("HOST", "host", False),
    ("PORT", "port", True),
    ("USERNAME", "username", False),
    ("PASSWORD", "password", False),
    ("USE_TLS", "use_tls", False),
    ("FROM", "sender", False),
)
# Event setting -> MailEvent field.
_EVENT = (
    ("SOURCE_TOPIC", "source"),
    ("RECIPIENT", "recipient"),
    ("SUBJECT", "subject"),
    ("BODY", "body"),
    ("TEMPLATE_PATH", "template_path"),
)


@register("EMAIL")
def lower_mail(route: ast.Route, site: Site) -> tuple[RouteView, list[Diagnostic]]:
    view = new_view(route, "EMAIL")
    view.extras = ["mail"]
    config = resolve_settings(route, "SMTP_CONFIG")
    arguments = [f"name={route.name.text!r}"]
    for key, name, whole in _CONFIG:
        value = config.get(key)
        if isinstance(value, ast.SettingValue):
            arguments.append(f"{name}={config_text(value, whole=whole)}")
    events = _blocks(route, "EVENT") + _blocks(route, "MAPPING")
    events.sort(key=lambda pair: (pair[0].span.line, pair[0].span.column))
    inner = "".join(f"\n{_INDENT * 2}{_event(block)}," for _, block in events)
    arguments.append(f"events=({inner}\n{_INDENT})")
    listed = "".join(f"\n{_INDENT}{a}," for a in arguments)
    view.constructor = f"MailRoute({listed}\n)"
    view.imports = sorted(
        ["from lot_runtime.routes.mail import MailEvent, MailRoute"]
        + settings_imports(view.constructor)
    )
    view.route_class = "MailRoute"
    view.reads = sorted({_text(b, "SOURCE_TOPIC") for _, b in events} - {""})
    return view, []


def _blocks(route: ast.Route, kind: str) -> list[tuple[ast.RouteBlock, ResolvedBlock]]:
    schema = route_schema(route.route_type)
    block_schema = schema.block(kind) if schema else None
    return [(b, resolve_block(block_schema, b)) for b in blocks_of(route, kind)]


def _event(block: ResolvedBlock) -> str:
    fields = [f"name={block.name or '?'!r}"]
    for key, name in _EVENT:
        value = _text(block, key)
        if value or (key in ("SOURCE_TOPIC", "RECIPIENT")):
            fields.append(f"{name}={value!r}")
    return f"MailEvent({', '.join(fields)})"


def _text(block: ResolvedBlock, key: str) -> str:
    value = block.settings.get(key)
    return value.text if isinstance(value, ast.SettingValue) else ""
