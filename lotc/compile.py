"""The whole pipeline in one place.

``check`` runs the front end over a site: read the sources, parse each file,
check the site as one.  ``generate`` continues from the ``CheckedSite``:
read ``site.toml``, lower the site into template data, render it into the
files of a Python package.  ``build`` packs those files and the runtime into
two wheels.  Each phase stops the pipeline when it reports an error.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from lotc.codegen.config import SiteConfig


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
    *,
    route_checks: bool = True,
) -> CheckedSite:
    """Check LoT sources and Python scripts (as (name, text) pairs) as one site.
    ``route_checks``: once the site is clean, add what the route lowerings
    find (tests of a lowering turn it off to see the lowering's own report)."""
    diagnostics = list(extra)
    modules = []
    with _few_collections():
        for source in sources:
            module, found = parse_source(source)
            modules.append(module)
            diagnostics.extend(found)
        found_scripts, broken, problems = _read_scripts(scripts)
        diagnostics.extend(problems)
        diagnostics.extend(check_site(modules, found_scripts, broken))
    checked = CheckedSite(
        {s.name: s for s in sources},
        modules,
        diagnostics,
        found_scripts,
        {name: text.splitlines() for name, text in scripts},
    )
    if route_checks and not checked.has_errors:
        # Imported here: the route lowerings are part of code generation.
        from lotc.codegen.routes import route_mistakes

        diagnostics.extend(route_mistakes(checked.site))
    diagnostics.sort(key=Diagnostic.sort_key)
    return checked


@contextmanager
def _few_collections() -> Iterator[None]:
    """Let the cycle collector run rarely while a site is parsed and checked.

    Parsing allocates millions of short-lived objects (lark trees and tokens)
    and keeps the AST, which holds no cycles.  With the default thresholds the
    collector runs every 700 allocations and walks the whole growing AST again
    and again: a quarter of the time of checking a large site.  The thresholds
    are raised, as mypy does, and put back afterwards.
    """
    saved = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


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


@dataclass
class Generated:
    """The outcome of generating a site: every diagnostic, and the files
    (relative path -> bytes) when there were no errors."""

    checked: CheckedSite
    diagnostics: list[Diagnostic]
    files: dict[str, bytes]
    config: SiteConfig | None = None
    extras: list[str] = field(default_factory=list)  # lot-runtime extras

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)


def generate(site_folder: str) -> Generated:
    """Check the site in ``site_folder`` and, when it is clean, lower and
    render it into the files of its Python package."""
    # Imported here: `lotc check` should not pay for black and jinja2.
    from lotc.codegen.config import read_config
    from lotc.codegen.lower import lower_site
    from lotc.codegen.render import render_site

    checked = check([site_folder])
    config, problems = read_config(Path(site_folder), site_folder)
    toml = Path(site_folder) / "site.toml"
    if problems and toml.is_file():
        # Let diagnostics about site.toml show its lines like any source's.
        text = toml.read_text(encoding="utf-8", errors="replace")
        checked.script_lines[problems[0].span.file] = text.splitlines()
    diagnostics = checked.diagnostics + problems
    if any(d.is_error for d in diagnostics):
        return Generated(checked, _sorted(diagnostics), {}, config)

    sources = {name: source.text for name, source in checked.sources.items()}
    scripts = {
        name: "\n".join(lines) + "\n" for name, lines in checked.script_lines.items()
    }
    view, found = lower_site(checked.site, sources, scripts, config, root=site_folder)
    diagnostics = _sorted(diagnostics + found)
    if any(d.is_error for d in diagnostics):
        return Generated(checked, diagnostics, {}, config)
    return Generated(checked, diagnostics, render_site(view), config, view.extras)


def build(site_folder: str, out: Path) -> tuple[Generated, list[Path]]:
    """``generate``, then write the site's wheel and the runtime's into ``out``."""
    from lotc.codegen.naming import package_name
    from lotc.codegen.package import write_runtime_wheel, write_site_wheel

    generated = generate(site_folder)
    if generated.has_errors or generated.config is None:
        return generated, []
    config = generated.config
    site_wheel = write_site_wheel(
        out,
        name=config.name,
        version=config.version,
        package=package_name(config.name),
        files=generated.files,
        extras=tuple(generated.extras),
    )
    return generated, [site_wheel, write_runtime_wheel(out)]


def _sorted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=Diagnostic.sort_key)
