"""Generic traversal of AST nodes, for checks that look at every node."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from lotc.frontend import ast

# Fields so annotated never hold a node, so a walk need not look at them.
_PLAIN = frozenset({"str", "int", "bool", "str | None", "tuple[str, ...]"})
# The fields of each node class that may hold nodes, looked up once and kept
# last field first (the order a walk pushes them in): dataclasses.fields() is
# too slow to call for every node of a large site.
_NODE_FIELDS: dict[type, tuple[str, ...]] = {}


def node_fields(cls: type) -> tuple[str, ...]:
    """The names of the fields of ``cls`` that may hold nodes, in order."""
    names = _NODE_FIELDS.get(cls)
    if names is None:
        names = tuple(
            f.name
            for f in reversed(dataclasses.fields(cls))
            if f.name != "span" and str(f.type) not in _PLAIN
        )
        _NODE_FIELDS[cls] = names
    return names[::-1]


def children(node: ast.Node) -> Iterator[ast.Node]:
    for name in node_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, ast.Node):
            yield value
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, ast.Node):
                    yield item


def walk(node: ast.Node) -> Iterator[ast.Node]:
    """Every node below ``node`` (itself included), parents before children.

    The hottest loop of the checker, so written flat: children are pushed
    last first, so that they come off the stack in source order.
    """
    fields = _NODE_FIELDS
    node_type = ast.Node
    stack = [node]
    pop, push = stack.pop, stack.append
    while stack:
        current = pop()
        yield current
        names = fields.get(type(current))
        if names is None:
            node_fields(type(current))
            names = fields[type(current)]
        for name in names:
            value = getattr(current, name)
            if isinstance(value, tuple):
                for item in reversed(value):
                    if isinstance(item, node_type):
                        push(item)
            elif isinstance(value, node_type):
                push(value)
