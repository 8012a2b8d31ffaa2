"""The checker: every rule that needs more than one node, over a whole site.

Input: the parsed modules of one site and its Python scripts.  Output:
diagnostics, in no particular order (the caller sorts them).  The passes run
one after another over the same ``Site``; none of them changes the AST, and
each reports all it finds rather than stopping at the first problem.

- ``names``: duplicate entities, variables set before use, calls, models.
- ``context``: what exists for which trigger, bare names, timestamp formats.
- ``types``: a type for every expression; operations that cannot succeed.
- ``schemas``: route, model and rule configuration against declared schemas.
- ``topics``: topic filters and publish targets, folded where constant.
- ``graph``: the site's topic graph and the loops in it.
"""

from __future__ import annotations

from lotc.frontend import ast, context, graph, names, schemas, topics, types
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.site import PythonScript, Site

PASSES = (
    names.check_names,
    context.check_context,
    types.check_types,
    schemas.check_configuration,
    topics.check_topics,
    graph.check_graph,
)


def check_site(
    modules: list[ast.Module],
    scripts: dict[str, PythonScript] | None = None,
    broken_scripts: frozenset[str] = frozenset(),
) -> list[Diagnostic]:
    site = Site(modules, scripts or {}, broken_scripts=broken_scripts)
    diagnostics: list[Diagnostic] = []
    for check in PASSES:
        diagnostics.extend(check(site))
    return diagnostics
