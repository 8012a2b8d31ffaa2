"""The whole pipeline in one place.

``check`` runs the front end over a site: read the sources, parse each file,
check the site as one.  Code generation (``build``) will continue from the
``CheckedSite`` this returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lotc.frontend import ast
from lotc.frontend.checker import check_site
from lotc.frontend.diagnostics import Diagnostic, Span
from lotc.frontend.messages import DUPLICATE_SCRIPT, UNREADABLE_FILE
from lotc.frontend.parser import parse_source
from lotc.frontend.scripts import read_script, script_name
from lotc.frontend.site import PythonScript, Site
from lotc.frontend.source import (
    SourceFile,
    collect_paths,
    notebook_python_cells,
    read_sources,
)


@dataclass
class CheckedSite:
    sources: dict[str, SourceFile]
    modules: list[ast.Module]
    diagnostics: list[Diagnostic]
    scripts: dict[str, PythonScript] = field(default_factory=dict)
    script_lines: dict[str, list[str]] = field(default_factory=dict)

    @property
    def site(self) -> Site:
        return Site(self.modules, self.scripts)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    def line(self, file: str, number: int) -> str:
        source = self.sources.get(file)
        if source is not None:
            return source.line_text(number)
        lines = self.script_lines.get(file, [])
        return lines[number - 1] if 1 <= number <= len(lines) else ""


def check_sources(
    sources: list[SourceFile],
    extra: list[Diagnostic] = (),
    scripts: list[tuple[str, str]] = (),
) -> CheckedSite:
    """Check LoT sources and Python scripts (as (name, text) pairs) as one site."""
    diagnostics = list(extra)
    modules = []
    for source in sources:
        module, found = parse_source(source)
        modules.append(module)
        diagnostics.extend(found)
    found_scripts, broken, problems = _read_scripts(scripts)
    diagnostics.extend(problems)
    diagnostics.extend(check_site(modules, found_scripts, broken))
    diagnostics.sort(key=Diagnostic.sort_key)
    return CheckedSite(
        {s.name: s for s in sources},
        modules,
        diagnostics,
        found_scripts,
        {name: text.splitlines() for name, text in scripts},
    )


def _read_scripts(scripts):
    """The site's scripts by declared name, the names of those that do not
    parse, and the diagnostics."""
    found: dict[str, PythonScript] = {}
    broken: set[str] = set()
    diagnostics: list[Diagnostic] = []
    for name, text in scripts:
        script, problems = read_script(text, name)
        diagnostics.extend(problems)
        if script is None:
            if problems and (declared := script_name(text)):
                broken.add(declared)
            continue
        if script.name in found:
            span = Span.point(name, 1, 1)
            diagnostics.append(DUPLICATE_SCRIPT.at(span, name=script.name))
            continue
        found[script.name] = script
    return found, frozenset(broken), diagnostics


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
    scripts: list[tuple[str, str]] = []
    for path, display in found:
        if path.suffix.lower() == ".py":
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError as error:
                reason = error.strerror or str(error)
                span = Span.point(display, 1, 1)
                diagnostics.append(
                    UNREADABLE_FILE.at(span, path=display, reason=reason)
                )
                continue
            scripts.append((display, text))
            continue
        read, problems = read_sources(Path(path), display)
        sources.extend(read)
        diagnostics.extend(problems)
        if path.suffix.lower() == ".lotnb":
            scripts.extend(notebook_python_cells(path, display))
    return check_sources(sources, diagnostics, scripts)
