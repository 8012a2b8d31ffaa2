"""A site: every parsed module and Python script of one folder, indexed by name.

Built once by the checker and handed to every check.  ``actions``, ``models``,
``routes`` and ``rules`` map a name to its first definition (a second one is
reported as a duplicate); ``scripts`` maps a ``# Script Name:`` to the script.
``nodes(entity)`` lists every node of an entity, walked once for all checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lotc.frontend import ast
from lotc.frontend.walk import walk


@dataclass(frozen=True)
class PythonFunction:
    name: str
    required: int
    maximum: int | None  # None: takes *args
    line: int


@dataclass(frozen=True)
class PythonScript:
    """A site script: its declared name and top-level functions."""

    name: str
    file: str
    functions: dict[str, PythonFunction]


@dataclass
class Site:
    modules: list[ast.Module]
    scripts: dict[str, PythonScript] = field(default_factory=dict)
    actions: dict[str, ast.Action] = field(default_factory=dict)
    models: dict[str, ast.Model] = field(default_factory=dict)
    routes: dict[str, ast.Route] = field(default_factory=dict)
    rules: dict[str, ast.Rule] = field(default_factory=dict)
    broken_scripts: frozenset[str] = frozenset()
    # Node lists by entity identity; the entity is kept with its list so that
    # its id cannot be reused by another object while the site lives.
    _walked: dict[int, tuple[ast.Node, list[ast.Node]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        tables = {
            ast.Action: self.actions,
            ast.Model: self.models,
            ast.Route: self.routes,
            ast.Rule: self.rules,
        }
        for entity in self.entities():
            table = tables.get(type(entity))
            if table is not None:
                table.setdefault(entity.name.text, entity)

    def entities(self):
        for module in self.modules:
            yield from module.entities

    def nodes(self, entity: ast.Node) -> list[ast.Node]:
        """Every node of ``entity`` in ``walk`` order.

        Several checks look at every node of every entity; walking each
        entity once for all of them saves most of the checker's time on a
        large site.  The list is shared: callers must not change it.
        """
        walked = self._walked.get(id(entity))
        if walked is None:
            walked = self._walked[id(entity)] = (entity, list(walk(entity)))
        return walked[1]
