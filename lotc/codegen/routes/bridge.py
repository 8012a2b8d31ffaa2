"""Lowering of MQTT_BRIDGE routes to ``lot_runtime.routes.bridge.BridgeRoute``.

Input: a checked bridge route (LOT312 has already refused mappings that
forward into their own source).  Output: a ``RouteView`` whose constructor
names both brokers (``SiteBroker()`` for ``BROKER SELF``, else a
``RemoteBroker`` with literal, ``Env`` or ``Secret`` values) and every
mapping in source order, with its direction in lower case.  ``reads`` and
``writes`` list the topics the bridge uses on the site's own broker.
"""

from __future__ import annotations

from lotc.codegen.routes import RouteView, new_view, register, setting_text
from lotc.frontend import ast
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.route_schemas import (
    Default,
    resolve_named_blocks,
    resolve_settings,
)
from lotc.frontend.site import Site

# Config key -> RemoteBroker field, and how its literal is written.
_BROKER_FIELDS = (
    ("BROKER_ADDRESS", "address", "text"),
    ("BROKER_PORT", "port", "int"),
    ("CLIENT_ID", "client_id", "text"),
    ("USERNAME", "username", "text"),
    ("PASSWORD", "password", "text"),
    ("USE_TLS", "tls", "flag"),
    ("ALLOW_UNTRUSTED_CERTS", "allow_untrusted", "flag"),
    ("SERVER_CA_CERT_PATH", "ca_cert", "text"),
    ("CLIENT_CERT_PATH", "client_cert", "text"),
    ("CLIENT_CERT_PASS", "client_cert_password", "text"),
)
_INDENT = "    "


@register("MQTT_BRIDGE")
def lower_bridge(route: ast.Route, site: Site) -> tuple[RouteView, list[Diagnostic]]:
    view = new_view(route, "MQTT_BRIDGE")
    source = resolve_settings(route, "SOURCE_CONFIG")
    destination = resolve_settings(route, "DESTINATION_CONFIG")
    mappings = [
        (
            block.name or "?",
            _literal(block.settings.get("SOURCE_TOPIC")),
            _literal(block.settings.get("DESTINATION_TOPIC")),
            (_literal(block.settings.get("DIRECTION")) or "out").lower(),
        )
        for block in resolve_named_blocks(route, "MAPPING")
    ]

    names = {"BridgeMapping", "BridgeRoute"}
    brokers = []
    for settings in (source, destination):
        text, name = _broker(settings)
        names.add(name)
        brokers.append(text)
    view.imports = [f"from lot_runtime.routes.bridge import {', '.join(sorted(names))}"]
    if any("Env(" in b or "Secret(" in b for b in brokers):
        used = [n for n in ("Env", "Secret") if any(f"{n}(" in b for b in brokers)]
        view.imports.insert(0, f"from lot_runtime.routes import {', '.join(used)}")
    lines = [
        "BridgeRoute(",
        f"{_INDENT}name={route.name.text!r},",
        f"{_INDENT}source={brokers[0]},",
        f"{_INDENT}destination={brokers[1]},",
        f"{_INDENT}mappings=(",
        *(
            f"{_INDENT * 2}BridgeMapping({name!r}, {read!r}, {write!r}, {way!r}),"
            for name, read, write, way in mappings
        ),
        f"{_INDENT}),",
        ")",
    ]
    view.constructor = "\n".join(lines)

    site_is_source = _is_self(source)
    site_is_destination = _is_self(destination)
    for _, read, write, way in mappings:
        hops = []
        if way in ("out", "both"):
            hops.append((site_is_source, read, site_is_destination, write))
        if way == "in":
            hops.append((site_is_destination, read, site_is_source, write))
        if way == "both":
            hops.append((site_is_destination, write, site_is_source, read))
        for read_on_site, topic_filter, written_on_site, target in hops:
            if read_on_site:
                view.reads.append(topic_filter)
            if written_on_site:
                view.writes.append(target)
    view.reads = sorted(set(view.reads))
    view.writes = sorted(set(view.writes))
    return view, []


def _is_self(settings: dict[str, ast.SettingValue | Default]) -> bool:
    broker = settings.get("BROKER")
    return isinstance(broker, ast.SettingValue) and broker.kind == "self"


def _broker(settings: dict[str, ast.SettingValue | Default]) -> tuple[str, str]:
    """Python text of one side's broker, and the class it names."""
    if _is_self(settings):
        return "SiteBroker()", "SiteBroker"
    arguments = []
    for key, field_name, kind in _BROKER_FIELDS:
        value = settings.get(key)
        if value is None or isinstance(value, Default) and value.value is None:
            continue
        arguments.append(f"{field_name}={_value_text(value, kind)}")
    inner = "".join(f"\n{_INDENT * 2}{a}," for a in arguments)
    return f"RemoteBroker({inner}\n{_INDENT})", "RemoteBroker"


def _value_text(value: ast.SettingValue | Default, kind: str) -> str:
    """A literal as the runtime wants it (ports as ints, flags as bools);
    GET ENV / GET SECRET as ``Env`` / ``Secret``."""
    raw = value.value if isinstance(value, Default) else value
    if isinstance(raw, ast.SettingValue) and raw.kind in ("env", "secret"):
        return setting_text(raw)
    text = raw.text if isinstance(raw, ast.SettingValue) else raw
    if kind == "int" and str(text).strip().isdigit():
        return repr(int(str(text)))
    if kind == "flag":
        return repr(str(text).strip().lower() in ("1", "true", "yes", "on"))
    return repr(str(text))


def _literal(value: ast.SettingValue | Default | None) -> str:
    if value is None:
        return ""
    raw = value.value if isinstance(value, Default) else value
    return raw.text if isinstance(raw, ast.SettingValue) else str(raw)
