"""Generic traversal of AST nodes, for checks that look at every node."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from lotc.frontend import ast


def children(node: ast.Node) -> Iterator[ast.Node]:
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if isinstance(value, ast.Node):
            yield value
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, ast.Node):
                    yield item


def walk(node: ast.Node) -> Iterator[ast.Node]:
    """Every node below ``node`` (itself included), parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))
