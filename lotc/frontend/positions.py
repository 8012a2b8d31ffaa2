"""Positions of parse-tree nodes: lark's ``propagate_positions``, done cheaper.

Input: the LALR parser's tree-building callbacks.  Output: the same callbacks,
each wrapped so that every tree it builds gets ``meta`` positions exactly as
lark's ``propagate_positions=True`` sets them: a tree starts where its first
child starts and ends where its last child ends, counting the tokens the tree
does not keep (keywords, newlines) and the rules inlined into it; the
``container_*`` fields record that full extent for the trees above.

lark computes this with a ``getattr`` with a default for every field of every
tree, which raises and catches an AttributeError whenever the child is a
token: a third of the time of building the trees of a large site.  Here a
token's fields are read directly, and a tree's ``container_*`` fields are
always there once it has a position.  The parser is built with
``propagate_positions=False`` and these wrappers take over; the golden
diagnostics and a test that compares both on every corpus file hold them equal.
"""

from __future__ import annotations

from collections.abc import Callable

from lark import Token, Tree

Build = Callable[[list], object]


def with_positions(callbacks: dict) -> None:
    """Wrap every tree-building callback of a parser, in place."""
    for rule, build in callbacks.items():
        callbacks[rule] = _positioned(build)


def _positioned(build: Build) -> Build:
    def positioned(children: list) -> object:
        tree = build(children)
        if not isinstance(tree, Tree) or (len(children) == 1 and tree is children[0]):
            # A token, or a tree passed up unchanged by an inlined rule: its
            # container is already its own extent.
            return tree
        first = _start(children)
        if first is None:
            return tree

        last = _end(children)
        meta = tree.meta
        # A tree that already has a position is a child passed up through an
        # inlined rule (`?rule`, or one child left after filtering): it keeps
        # its own position and only its container grows.
        if meta.empty:
            meta.line, meta.column, meta.start_pos = first
            meta.end_line, meta.end_column, meta.end_pos = last
            meta.empty = False
        meta.container_line, meta.container_column = first[0], first[1]
        meta.container_start_pos = first[2]
        meta.container_end_line, meta.container_end_column = last[0], last[1]
        meta.container_end_pos = last[2]
        return tree

    return positioned


def _start(children: list) -> tuple[int, int, int] | None:
    for child in children:
        if isinstance(child, Tree):
            meta = child.meta
            if not meta.empty:
                return (
                    meta.container_line,
                    meta.container_column,
                    meta.container_start_pos,
                )
        elif isinstance(child, Token):
            return child.line, child.column, child.start_pos
    return None


def _end(children: list) -> tuple[int, int, int]:
    for child in reversed(children):
        if isinstance(child, Tree):
            meta = child.meta
            if not meta.empty:
                return (
                    meta.container_end_line,
                    meta.container_end_column,
                    meta.container_end_pos,
                )
        elif isinstance(child, Token):
            return child.end_line, child.end_column, child.end_pos
    raise AssertionError("a child with a start has an end")
