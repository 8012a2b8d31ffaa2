"""Lowering of a checked site into the plain data the templates render.

Input: a ``CheckedSite`` without errors and its ``SiteConfig``.  Output: a
``SiteView`` (every list sorted, every name a ``PyName``) and the
diagnostics of what the Python back end cannot build (LOT401-LOT406).  After
this phase nothing reads the AST again: rendering only lays the view out.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

from lotc.codegen.actions import ActionView, SiteNames, lower_action
from lotc.codegen.config import SiteConfig
from lotc.codegen.models import ModelView, lower_model, model_class_name
from lotc.codegen.naming import PyName, module_name, package_name, python_name
from lotc.codegen.routes import ROUTE_LOWERINGS, RouteView
from lotc.codegen.rules import POLICY_FILE, compile_rules
from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.environment import required_environment
from lotc.frontend.patterns import TopicPattern
from lotc.frontend.route_schemas import route_schema
from lotc.frontend.site import Site
from lotc.frontend.topics import fold
from lotc.frontend.walk import walk


@dataclass(frozen=True)
class ScriptView:
    name: str  # the "# Script Name"
    module: PyName
    file: str
    text: str


@dataclass
class SiteView:
    name: str
    version: str
    qos: int
    package: PyName
    actions: list[ActionView]
    models: list[ModelView]
    routes: list[RouteView]
    scripts: list[ScriptView]
    cache_filters: list[str]
    env: list[str]
    secrets: list[str]
    sources: dict[str, str]  # file -> sha256 of its text
    # The dynamic-security policy compiled from the rules, as file text.
    broker_policy: str | None = None

    @property
    def extras(self) -> list[str]:
        """The lot-runtime extras the site's routes need."""
        return sorted({extra for route in self.routes for extra in route.extras})

    manifest: dict = field(default_factory=dict)


def lower_site(
    site: Site,
    sources: dict[str, str],
    scripts: dict[str, str],
    config: SiteConfig,
    root: str = "",
) -> tuple[SiteView, list[Diagnostic]]:
    """``sources`` and ``scripts`` map a display path to its text; ``root``
    is the site folder as display paths start with it, left out of every path
    that reaches generated code so output does not depend on where lotc ran."""

    def relative(path: str) -> str:
        prefix = root.rstrip("/") + "/" if root else ""
        return path[len(prefix) :] if prefix and path.startswith(prefix) else path

    broker_policy, diagnostics = compile_rules(site)
    diagnostics.extend(_module_clashes(site))

    script_views = _scripts(site, scripts)
    names = SiteNames(
        package=package_name(config.name),
        models={name: model_class_name(name) for name in site.models},
        actions=dict(site.actions),
        scripts={view.name: view.module for view in script_views},
    )
    actions = []
    for action in site.actions.values():
        view, found = lower_action(action, names)
        view.source = relative(view.source)
        actions.append(view)
        diagnostics.extend(found)
    models = []
    for model in site.models.values():
        view, found = lower_model(model, site)
        models.append(dataclasses.replace(view, source=relative(view.source)))
        diagnostics.extend(found)

    routes, found = _routes(site)
    diagnostics.extend(found)
    for route in routes:
        route.source = relative(route.source)

    requirements = required_environment(site)
    view = SiteView(
        name=config.name,
        version=config.version,
        qos=config.qos,
        package=names.package,
        actions=sorted(actions, key=lambda a: a.module),
        models=sorted(models, key=lambda m: m.python),
        routes=sorted(routes, key=lambda r: r.module),
        scripts=script_views,
        cache_filters=_cache_filters(site),
        env=sorted({r.name for r in requirements if r.kind == "env"}),
        secrets=sorted({r.name for r in requirements if r.kind == "secret"}),
        sources={
            relative(name): hashlib.sha256(text.encode()).hexdigest()
            for name, text in sorted(sources.items())
        },
        broker_policy=broker_policy,
    )
    view.manifest = _manifest(site, view, requirements)
    if broker_policy is not None:
        view.manifest["broker_policy"] = POLICY_FILE
    return view, diagnostics


def _routes(site: Site) -> tuple[list[RouteView], list[Diagnostic]]:
    """Each route lowered by the lowering of its type; LOT401 for a type the
    Python back end does not build yet."""
    views: list[RouteView] = []
    found: list[Diagnostic] = []
    for route in site.routes.values():
        schema = route_schema(route.route_type)
        lowering = ROUTE_LOWERINGS.get(schema.type) if schema else None
        if lowering is None:
            found.append(
                messages.UNSUPPORTED_ROUTE_TYPE.at(
                    route.name.span,
                    route_type=route.route_type or "?",
                    notes=("`lotc check` accepts the route; only building it waits",),
                )
            )
            continue
        view, problems = lowering(route, site)
        views.append(view)
        found.extend(problems)
    return views, found


def _module_clashes(site: Site) -> list[Diagnostic]:
    """Two entities of one kind whose names make the same module name."""
    found = []
    tables = (("action", site.actions), ("model", site.models), ("route", site.routes))
    for kind, table in tables:
        seen: dict[str, ast.Name] = {}
        for name, entity in sorted(table.items()):
            module = module_name(name) if kind == "action" else model_class_name(name)
            other = seen.setdefault(module, entity.name)
            if other is not entity.name:
                found.append(
                    messages.MODULE_NAME_CLASH.at(
                        entity.name.span,
                        kind=kind,
                        name=name,
                        other=other.text,
                        module=module,
                        help="rename one of them",
                    )
                )
    return found


def _scripts(site: Site, texts: dict[str, str]) -> list[ScriptView]:
    views = []
    taken: set[str] = set()
    for name, script in sorted(site.scripts.items()):
        module = python_name(name, snake=True, taken=taken)
        taken.add(module)
        views.append(ScriptView(name, module, script.file, texts[script.file]))
    return views


def _cache_filters(site: Site) -> list[str]:
    """The filters that feed GET TOPIC: each read topic with its unknown and
    wildcard levels written ``+`` (``"cache/" + {id} + "/avg"`` reads
    ``cache/+/avg``)."""
    filters = set()
    for action in site.actions.values():
        for node in walk(action):
            if isinstance(node, ast.GetTopic):
                filters.add(_as_filter(fold(node.topic, action)))
    return _without_covered(filters)


def _without_covered(filters: set[str]) -> list[str]:
    """The filters no other filter of the set already matches."""
    kept = []
    for candidate in sorted(filters):
        levels = candidate.split("/")
        covered = any(
            other != candidate and _covers(other.split("/"), levels)
            for other in filters
        )
        if not covered:
            kept.append(candidate)
    return kept


def _covers(general: list[str], specific: list[str]) -> bool:
    for index, level in enumerate(general):
        if level == "#":
            return True
        if index >= len(specific):
            return False
        if level != "+" and level != specific[index]:
            return False
        if level == "+" and specific[index] == "#":
            return False
    return len(general) == len(specific)


def _as_filter(pattern: TopicPattern) -> str:
    return "/".join(
        level if isinstance(level, str) else "+" for level in pattern.levels
    )


def _manifest(site: Site, view: SiteView, requirements) -> dict:
    entities = [
        {
            "kind": "action",
            "name": a.name,
            "module": f"actions.{a.module}",
            "source": a.source,
            "trigger": a.summary,
        }
        for a in view.actions
    ] + [{"kind": "model", "name": m.name, "source": m.source} for m in view.models]
    triggers = {a.trigger_filter for a in view.actions if a.trigger_filter}
    triggers |= {topic for r in view.routes for topic in r.reads}
    triggers = sorted(triggers)
    return {
        "site": view.name,
        "version": view.version,
        "qos": view.qos,
        "entities": entities,
        "topics": {
            "subscribes": triggers,
            "reads": view.cache_filters,
            "publishes": sorted(
                {t for a in view.actions for t in a.publishes}
                | {t for r in view.routes for t in r.writes}
            ),
            "keeps": sorted({t for a in view.actions for t in a.keeps}),
        },
        "runtime_extras": view.extras,
        "environment": [
            {"kind": r.kind, "name": r.name, "needed_by": list(r.needed_by)}
            for r in requirements
        ],
        "sources": view.sources,
    }
