"""The whole pipeline in one place.

``check`` runs the front end over a site: read the sources, parse each file,
check the site as one.  Code generation (``build``) will continue from the
``CheckedSite`` this returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lotc.frontend import ast
from lotc.frontend.checker import check_site
from lotc.frontend.diagnostics import Diagnostic, Span
from lotc.frontend.messages import UNREADABLE_FILE
from lotc.frontend.parser import parse_source
from lotc.frontend.source import SourceFile, collect_paths, read_sources


@dataclass
class CheckedSite:
    sources: dict[str, SourceFile]
    modules: list[ast.Module]
    diagnostics: list[Diagnostic]

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    def line(self, file: str, number: int) -> str:
        source = self.sources.get(file)
        return source.line_text(number) if source else ""


def check_sources(
    sources: list[SourceFile], extra: list[Diagnostic] = ()
) -> CheckedSite:
    diagnostics = list(extra)
    modules = []
    for source in sources:
        module, found = parse_source(source)
        modules.append(module)
        diagnostics.extend(found)
    diagnostics.extend(check_site(modules))
    diagnostics.sort(key=Diagnostic.sort_key)
    return CheckedSite({s.name: s for s in sources}, modules, diagnostics)


def check(paths: list[str]) -> CheckedSite:
    """Check files and folders together, as one site."""
    found, missing = collect_paths(paths)
    diagnostics = [
        UNREADABLE_FILE.at(
            Span.point(name, 1, 1), path=name, reason="no such file or folder"
        )
        for name in missing
    ]
    sources: list[SourceFile] = []
    for path, display in found:
        read, problems = read_sources(Path(path), display)
        sources.extend(read)
        diagnostics.extend(problems)
    return check_sources(sources, diagnostics)
