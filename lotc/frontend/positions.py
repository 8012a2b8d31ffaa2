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
    # The hottest function of parsing: the searches for the first and last
    # child with a position are written inline rather than as calls.
    def positioned(children: list) -> object:
        tree = build(children)
        if not isinstance(tree, Tree) or (len(children) == 1 and tree is children[0]):
            # A token, or a tree passed up unchanged by an inlined rule: its
            # container is already its own extent.
            return tree

        for child in children:
            if isinstance(child, Token):
                first = child.line, child.column, child.start_pos
                break
            meta = child.meta
            if not meta.empty:
                first = (
                    meta.container_line,
                    meta.container_column,
                    meta.container_start_pos,
                )
                break
        else:
            return tree
        for child in reversed(children):
            if isinstance(child, Token):
                last = child.end_line, child.end_column, child.end_pos
                break
            meta = child.meta
            if not meta.empty:
                last = (
                    meta.container_end_line,
                    meta.container_end_column,
                    meta.container_end_pos,
                )
                break

        meta = tree.meta
        # A tree that already has a position is a child passed up through an
        # inlined rule whose other children were filtered out: it keeps its
        # own position and only its container grows.
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
