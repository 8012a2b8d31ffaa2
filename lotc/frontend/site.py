"""A site: every parsed module and Python script of one folder, indexed by name.

Built once by the checker and handed to every check.  ``actions``, ``models``,
``routes`` and ``rules`` map a name to its first definition (a second one is
reported as a duplicate); ``scripts`` maps a ``# Script Name:`` to the script.
``nodes(entity)`` lists every node of an entity, walked once for all checks,
and ``shared`` keeps anything else the checks work out once about a node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lotc.frontend import ast
from lotc.frontend.walk import walk

T = TypeVar("T")


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
    # What checks work out about one node and share, by (kind, node identity).
    # The node is kept with its value, so its id cannot be reused by another
    # object while the site lives.
    _shared: dict[tuple[str, int], tuple[ast.Node, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
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
        return self.shared("nodes", entity, lambda: list(walk(entity)))

    def shared(self, kind: str, node: ast.Node, make: Callable[[], T]) -> T:
        """``make()``, called once per ``kind`` and ``node`` for the whole site."""
        key = (kind, id(node))
        found = self._shared.get(key)
        if found is None:
            found = self._shared[key] = (node, make())
        return found[1]
