"""Lowering of OPCUA routes to ``OpcuaRoute``.

Input: a checked OPCUA route.  Output: its ``RouteView``; a tag ADDRESS that
is neither a NodeId (``ns=2;s=Name``, ``i=85``, ``ns=3;g=<guid>``,
``ns=1;b=<base64>``) nor, with ``USE_BROWSE_PATH``, a path is LOT410.

``USE_SECURITY`` without a policy means Basic256Sha256 (policy 3), the
strongest policy every current server offers.  Tags are monitored with a
subscription unless ``PUBLISH_MODE`` is ``CYCLIC`` or ``ALWAYS``, which poll
the node every ``EVERY``.
"""

from __future__ import annotations

import re

from lotc.codegen.routes import RouteView, new_view, register
from lotc.codegen.routes.tags import (
    call,
    config_text,
    env_in_tag,
    flag,
    publishing,
    settings_imports,
    tags_of,
    text,
)
from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.route_schemas import resolve_settings
from lotc.frontend.site import Site

_NODE_ID = re.compile(r"(ns=\d+;)?(i=\d+|s=.+|g=[0-9A-Fa-f-]{36}|b=[A-Za-z0-9+/=]+)")
_CONFIG = {
    "ENDPOINT_URL": "endpoint",
    "AUTH_MODE": "auth_mode",
    "USERNAME": "username",
    "PASSWORD": "password",
    "SECURITY_POLICY": "security_policy",
    "SECURITY_MODE": "security_mode",
}

_SECURITY = ("SECURITY_POLICY", "SECURITY_MODE")


@register("OPCUA")
def lower_opcua(route: ast.Route, site: Site) -> tuple[RouteView, list[Diagnostic]]:
    view = new_view(route, "OPCUA")
    view.extras = ["opcua"]
    view.imports = ["from lot_runtime.routes.opcua import OpcuaRoute, OpcuaTag"]
    config = resolve_settings(route, "OPCUA_CONFIG")
    browse = flag(config, "USE_BROWSE_PATH")
    problems: list[Diagnostic] = []

    tags = []
    for tag in tags_of(route):
        problems.extend(env_in_tag(tag))
        address = (text(tag.settings, "ADDRESS") or "").strip()
        if not browse and not _NODE_ID.fullmatch(address):
            problems.append(
                messages.BAD_DEVICE_ADDRESS.at(
                    tag.span,
                    name=tag.name,
                    problem=f"`{address}` is not an OPC UA NodeId",
                    help="write `ns=2;s=Name` or `ns=2;i=1001`, or set "
                    "USE_BROWSE_PATH to give a path from the Objects folder",
                )
            )
            continue
        arguments: dict[str, object] = {
            "name": tag.name,
            "address": address,
            "topic": tag.topic,
        }
        if browse:
            arguments["browse_path"] = True
        if flag(tag.settings, "SOURCE_TIMESTAMP"):
            arguments["source_timestamp"] = True
        try:
            arguments.update(publishing(tag))
        except ValueError:
            continue  # a number the checker already reported
        if (text(tag.settings, "PUBLISH_MODE") or "").upper() in ("CYCLIC", "ALWAYS"):
            arguments["poll"] = True
        tags.append((tag, arguments))

    arguments_text = [f"name={route.name.text!r}"]
    for key, name in _CONFIG.items():
        if key in config and (key not in _SECURITY or flag(config, "USE_SECURITY")):
            whole = key in ("AUTH_MODE", "SECURITY_POLICY")
            arguments_text.append(f"{name}={config_text(config[key], whole=whole)}")
    if flag(config, "USE_SECURITY") and "SECURITY_POLICY" not in config:
        arguments_text.append("security_policy=3")  # Basic256Sha256
    listed = "".join(f"{call('OpcuaTag', a)}, " for _, a in tags)
    arguments_text.append(f"tags=({listed})")
    view.constructor = f"OpcuaRoute({', '.join(arguments_text)})"
    view.imports = sorted(view.imports + settings_imports(view.constructor))
    view.route_class = "OpcuaRoute"
    view.reads = sorted({t.command_topic for t, _ in tags if t.command_topic})
    view.writes = sorted({t.topic for t, _ in tags})
    return view, problems
