"""The environment contract: every env var and secret a site needs, and who needs it.

Input: a ``Site``.  Output: one ``Requirement`` per (kind, name), sorted, with
the entities that read it.  Reads are ``GET ENV`` / ``GET SECRET`` in
expressions and route settings, and ``{env.NAME}`` / ``{secret.NAME}``
placeholders in route strings.  ``KEEP ENV`` / ``KEEP SECRET`` write a value
and need nothing.  Code generation embeds the same list in the manifest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lotc.frontend import ast
from lotc.frontend.site import Site
from lotc.frontend.walk import walk

_PLACEHOLDER = re.compile(r"\{(env|secret)\.([A-Za-z_][A-Za-z0-9_]*)\}")
_KINDS = {
    ast.Action: "action",
    ast.Model: "model",
    ast.Route: "route",
    ast.Rule: "rule",
}


@dataclass(frozen=True)
class Requirement:
    kind: str  # "env" or "secret"
    name: str
    needed_by: tuple[str, ...]  # "route BoilerArchive", sorted


def required_environment(site: Site) -> list[Requirement]:
    needs: dict[tuple[str, str], set[str]] = {}
    for entity in site.entities():
        kind = _KINDS.get(type(entity))
        if kind is None:
            continue
        who = f"{kind} {entity.name.text}"
        for need in _reads(entity):
            needs.setdefault(need, set()).add(who)
    return [
        Requirement(kind, name, tuple(sorted(users)))
        for (kind, name), users in sorted(needs.items())
    ]


def _reads(entity) -> list[tuple[str, str]]:
    found = []
    for node in walk(entity):
        if isinstance(node, ast.GetEnv):
            found.append(("env", node.name.value))
        elif isinstance(node, ast.GetSecret):
            found.append(("secret", node.name.value))
        elif isinstance(node, ast.SettingValue):
            if node.kind in ("env", "secret"):
                found.append((node.kind, node.text))
            elif node.kind == "string":
                found.extend(_PLACEHOLDER.findall(node.text))
    return found


def render_requirements(requirements: list[Requirement]) -> str:
    """A plain table for people: NAME, KIND, NEEDED BY."""
    if not requirements:
        return "this site needs no environment variables or secrets"
    width = max(len(r.name) for r in requirements)
    lines = [f"{'NAME'.ljust(width)}  KIND    NEEDED BY"]
    for requirement in requirements:
        users = ", ".join(requirement.needed_by)
        lines.append(f"{requirement.name.ljust(width)}  {requirement.kind:<6}  {users}")
    return "\n".join(lines)
