"""Rendering: the site view laid out as Python files, formatted by black.

Input: a ``SiteView``.  Output: the generated package as a sorted mapping
of relative path (``boiler_site/actions/normalise.py``) to bytes.  Templates
see only the view and hold ``for`` and ``if``; a name missing from the view
is an error (``StrictUndefined``), never an empty string.  Every Python file
goes through black, pinned to an exact version in pyproject.toml because the
golden files hold its output.  Nothing here reads the clock, the environment
or absolute paths: the same view gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json

import black
import jinja2

import lotc
from lotc.codegen.lower import SiteView
from lotc.codegen.rules import POLICY_FILE

_BLACK_MODE = black.Mode(target_versions={black.TargetVersion.PY311}, line_length=88)
_TRIGGER_CLASSES = (
    "OnTopic",
    "OnChange",
    "Every",
    "Weekly",
    "Daily",
    "Once",
    "OnStart",
)


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("lotc", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    environment.filters["pyrepr"] = repr
    environment.filters["pytuple"] = lambda items: repr(tuple(items))
    return environment


def render_site(view: SiteView) -> dict[str, bytes]:
    environment = _environment()
    package = view.package
    site_digest = hashlib.sha256(
        json.dumps(view.sources, sort_keys=True).encode()
    ).hexdigest()
    common = {
        "lotc_version": lotc.__version__,
        "package": package,
        "site": view,
        "qos": view.qos,
    }
    site_wide = {**common, "source": f"site {view.name}", "digest": site_digest}

    def python(template: str, **context) -> bytes:
        text = environment.get_template(template).render(**context)
        return black.format_str(text, mode=_BLACK_MODE).encode()

    files: dict[str, bytes] = {
        f"{package}/__init__.py": python("init.py.j2", **site_wide),
        f"{package}/__main__.py": python("main.py.j2", **site_wide),
        f"{package}/site.py": python("site.py.j2", **site_wide),
        f"{package}/models.py": python(
            "models.py.j2",
            **site_wide,
            uses_values=any(f.default for m in view.models for f in m.fields),
        ),
        f"{package}/actions/__init__.py": python(
            "package_init.py.j2",
            **site_wide,
            docstring=f"The actions of site {view.name}, one module each.",
        ),
        f"{package}/py.typed": b"",
        f"{package}/manifest.json": (
            json.dumps(view.manifest, indent=2, sort_keys=True) + "\n"
        ).encode(),
    }
    if view.broker_policy is not None:
        files[f"{package}/{POLICY_FILE}"] = view.broker_policy.encode()
    for action in view.actions:
        file = action.source.rsplit(":", 1)[0]
        files[f"{package}/actions/{action.module}.py"] = python(
            "action.py.j2",
            **common,
            action=action,
            trigger_class=_trigger_class(action.trigger),
            uses_values=_uses_values(action),
            source=action.source,
            digest=view.sources.get(file, ""),
        )
    if view.routes:
        files[f"{package}/routes/__init__.py"] = python(
            "package_init.py.j2",
            **site_wide,
            docstring=f"The routes of site {view.name}, one module each.",
        )
    for route in view.routes:
        file = route.source.rsplit(":", 1)[0]
        files[f"{package}/routes/{route.module}.py"] = python(
            "route.py.j2",
            **common,
            route=route,
            source=route.source,
            digest=view.sources.get(file, ""),
        )
    if view.scripts:
        files[f"{package}/scripts/__init__.py"] = python(
            "package_init.py.j2",
            **site_wide,
            docstring=f"The Python scripts of site {view.name}, for CALL PYTHON.",
        )
        for script in view.scripts:
            # The user's own code: copied as written, not reformatted.
            files[f"{package}/scripts/{script.module}.py"] = script.text.encode()
    return dict(sorted(files.items()))


def _uses_values(action) -> bool:
    lines = action.body + [parameter.cast for parameter in action.parameters]
    return any("lot." in line for line in lines)


def _trigger_class(trigger: str | None) -> str:
    if trigger is None:
        return ""
    name = trigger.split("(", 1)[0]
    if name not in _TRIGGER_CLASSES:
        raise ValueError(f"unknown trigger constructor {trigger!r}")
    return name
