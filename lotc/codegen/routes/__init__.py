"""Lowering of routes: one module of the generated package per DEFINE ROUTE.

Input: a checked ``ast.Route`` and its site.  Output: a ``RouteView`` for
``route.py.j2``: the import lines and the constructor text of one
``lot_runtime.routes`` class, and the ``lot-runtime`` extras the route needs
(its driver's optional dependencies).  Each route family has a module here
that registers the route types it builds in ``ROUTE_LOWERINGS``; a type with
no entry is LOT401, so a site never builds with a route left out.

A lowering reads settings through ``route_schemas.resolve_settings`` (canonical
keys, documented defaults) and writes values with ``setting_text``: literals
as Python literals, ``GET ENV`` / ``GET SECRET`` as ``Env("X")`` /
``Secret("X")``, resolved by the runtime at start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lotc.codegen.naming import PyName, module_name
from lotc.frontend import ast
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.route_schemas import Default, route_schema
from lotc.frontend.site import Site


@dataclass
class RouteView:
    """What ``route.py.j2`` renders for one route."""

    name: str
    module: PyName
    source: str  # "file.lot:LINE"
    route_type: str
    imports: list[str]  # whole import lines, sorted
    constructor: str  # Python text of the route object
    extras: list[str] = field(default_factory=list)  # lot-runtime extras
    reads: list[str] = field(default_factory=list)  # filters on the site broker
    writes: list[str] = field(default_factory=list)  # topics it publishes
    # The class of ROUTE, written as its annotation: mypy cannot infer the
    # type of a module variable read from site.py inside their import cycle.
    route_class: str = ""


Lowering = Callable[[ast.Route, Site], tuple[RouteView, list[Diagnostic]]]

# Canonical route type (as route_schemas names it) -> its lowering.  Route
# family modules add themselves on import (see _register_families below).
ROUTE_LOWERINGS: dict[str, Lowering] = {}


def register(*route_types: str) -> Callable[[Lowering], Lowering]:
    def decorate(lowering: Lowering) -> Lowering:
        for route_type in route_types:
            ROUTE_LOWERINGS[route_type] = lowering
        return lowering

    return decorate


def new_view(route: ast.Route, route_type: str) -> RouteView:
    """A view with the name, module and source filled in."""
    return RouteView(
        name=route.name.text,
        module=module_name(route.name.text),
        source=f"{route.span.file}:{route.span.line}",
        route_type=route_type,
        imports=[],
        constructor="",
    )


# Codes a lowering reports for what the Python back end cannot build yet;
# any other code it reports is a mistake in the LoT program itself.
BACK_END_CODES = frozenset(f"LOT40{n}" for n in range(1, 10))


def route_mistakes(site: Site) -> list[Diagnostic]:
    """What the route lowerings find wrong with the site's routes as LoT (an
    address no device can have, two tags on one register...), for ``lotc
    check``, which must not wait for ``lotc build`` to say so.  Only for a
    site that checked clean: a lowering expects a checked route."""
    found: list[Diagnostic] = []
    for route in site.routes.values():
        schema = route_schema(route.route_type)
        lowering = ROUTE_LOWERINGS.get(schema.type) if schema else None
        if lowering is not None:
            _, problems = lowering(route, site)
            found += [p for p in problems if p.code not in BACK_END_CODES]
    return found


def setting_text(value: object) -> str:
    """Python text of a resolved setting: a literal, Env("X") or Secret("X")."""
    if isinstance(value, Default):
        value = value.value
    if isinstance(value, ast.SettingValue):
        if value.kind == "env":
            return f"Env({value.text!r})"
        if value.kind == "secret":
            return f"Secret({value.text!r})"
        return repr(value.text)
    return repr(value)


def _register_families() -> None:
    """Import every route family module, so each registers its types."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


_register_families()
