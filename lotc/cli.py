"""The `lotc` command line: check, build, run, graph, fmt and explain.

Exit codes: 0 when the sources have no errors, 1 when they have errors, 2 for
usage errors and internal errors.  An internal error names the compiler
version and shows a traceback only with ``--traceback``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

from lotc import __version__
from lotc.frontend import messages
from lotc.frontend.diagnostics import Span
from lotc.frontend.render import render_human, render_json, render_short, summary

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
DOCS = Path(__file__).resolve().parent / "docs" / "errors"


def main(argv: list[str] | None = None) -> int:
    parser = _argument_parser()
    arguments = parser.parse_args(argv)
    if arguments.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return arguments.run(arguments)
    except KeyboardInterrupt:
        return EXIT_USAGE
    except Exception as error:  # the one place that turns a bug into a message
        return _internal_error(arguments, error)


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lotc", description="Compile LoT sites to asyncio Python services."
    )
    parser.add_argument("--version", action="version", version=f"lotc {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="parse and check LoT files and folders")
    check.add_argument("paths", nargs="+", metavar="PATH")
    check.add_argument("--format", choices=("human", "short", "json"), default="human")
    check.add_argument(
        "--list-env",
        action="store_true",
        help="list the env vars and secrets the site needs, and who needs them",
    )
    check.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    check.set_defaults(run=_run_check)

    build = commands.add_parser(
        "build", help="compile a site folder into its wheel and the runtime's"
    )
    build.add_argument("site", metavar="SITE")
    build.add_argument("-o", "--out", default="dist", metavar="OUT")
    build.add_argument(
        "--emit",
        metavar="DIR",
        help="also write the generated Python package into DIR, to read it",
    )
    build.add_argument("--format", choices=("human", "short", "json"), default="human")
    build.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    build.set_defaults(run=_run_build)

    run = commands.add_parser(
        "run", help="build a site into a temporary folder and run it now"
    )
    run.add_argument("site", metavar="SITE")
    run.add_argument(
        "site_arguments",
        nargs=argparse.REMAINDER,
        metavar="...",
        help="passed to the site's own `run` command (--broker URL, --only NAME)",
    )
    run.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    run.set_defaults(run=_run_run, format="human")

    graph = commands.add_parser("graph", help="draw the topic graph of a site")
    graph.add_argument("paths", nargs="+", metavar="PATH")
    graph.add_argument(
        "--format", choices=("mermaid", "dot", "json"), default="mermaid"
    )
    graph.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    graph.set_defaults(run=_run_graph)

    fmt = commands.add_parser("fmt", help="rewrite LoT files in the canonical layout")
    fmt.add_argument("paths", nargs="+", metavar="PATH")
    fmt.add_argument(
        "--check", action="store_true", help="only report files that would change"
    )
    fmt.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    fmt.set_defaults(run=_run_fmt)

    explain = commands.add_parser(
        "explain", help="explain a diagnostic code, e.g. LOT009"
    )
    explain.add_argument("code")
    explain.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    explain.set_defaults(run=_run_explain)
    return parser


def _missing(paths: list[str]) -> int | None:
    missing = [p for p in paths if not Path(p).exists()]
    for path in missing:
        print(f"lotc: error: no such file or folder: {path}", file=sys.stderr)
    return EXIT_USAGE if missing else None


def _run_check(arguments) -> int:
    from lotc.compile import check

    if (status := _missing(arguments.paths)) is not None:
        return status
    site = check(arguments.paths)
    if arguments.list_env:
        _print_environment(site, arguments.format)
    else:
        _print_diagnostics(site, arguments.format)
    return EXIT_ERRORS if site.has_errors else EXIT_OK


def _print_environment(site, form: str) -> None:
    from lotc.frontend.environment import render_requirements, required_environment

    requirements = required_environment(site.site)
    if form == "json":
        listed = [
            {"name": r.name, "kind": r.kind, "needed_by": list(r.needed_by)}
            for r in requirements
        ]
        diagnostics = json.loads(render_json(site.diagnostics))["diagnostics"]
        print(json.dumps({"environment": listed, "diagnostics": diagnostics}, indent=2))
        return
    _print_diagnostics(site, "short" if form == "short" else "human")
    print(render_requirements(requirements))


def _run_graph(arguments) -> int:
    from lotc.compile import check
    from lotc.frontend.graph import render_graph

    if (status := _missing(arguments.paths)) is not None:
        return status
    site = check(arguments.paths)
    errors = [d for d in site.diagnostics if d.is_error]
    for diagnostic in errors:
        print(render_short(diagnostic), file=sys.stderr)
    print(render_graph(site.site, arguments.format))
    return EXIT_ERRORS if errors else EXIT_OK


def _print_diagnostics(site, form: str, diagnostics=None) -> None:
    if diagnostics is None:
        diagnostics = site.diagnostics
    if form == "json":
        print(render_json(diagnostics))
        return
    if form == "short":
        for diagnostic in diagnostics:
            print(render_short(diagnostic), file=sys.stderr)
        return
    colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    for diagnostic in diagnostics:
        print(render_human(diagnostic, site.line, colour), file=sys.stderr)
        print(file=sys.stderr)
    totals = summary(diagnostics)
    if totals:
        files = len({d.span.file for d in diagnostics})
        where = f"{files} file{'s' if files != 1 else ''}"
        print(f"lotc: {totals} in {where}", file=sys.stderr)


def _site_folder(path: str) -> int | None:
    if (status := _missing([path])) is not None:
        return status
    if not Path(path).is_dir():
        print(
            f"lotc: error: {path} is not a folder: a site is a folder", file=sys.stderr
        )
        return EXIT_USAGE
    return None


def _run_build(arguments) -> int:
    from lotc.compile import build

    if (status := _site_folder(arguments.site)) is not None:
        return status
    print(f"lotc: building {arguments.site}", file=sys.stderr)
    generated, wheels = build(arguments.site, Path(arguments.out))
    _print_diagnostics(generated.checked, arguments.format, generated.diagnostics)
    if generated.has_errors:
        return EXIT_ERRORS
    if arguments.emit:
        _write_tree(Path(arguments.emit), generated.files)
        print(f"lotc: wrote the generated package to {arguments.emit}", file=sys.stderr)
    modules = sum(1 for name in generated.files if name.endswith(".py"))
    print(f"lotc: generated {modules} Python modules", file=sys.stderr)
    for wheel in wheels:
        print(wheel.as_posix())
    return EXIT_OK


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _run_run(arguments) -> int:
    import subprocess
    import tempfile

    from lotc.codegen.naming import package_name
    from lotc.compile import generate

    if (status := _site_folder(arguments.site)) is not None:
        return status
    generated = generate(arguments.site)
    _print_diagnostics(generated.checked, "human", generated.diagnostics)
    if generated.has_errors or generated.config is None:
        return EXIT_ERRORS
    package = package_name(generated.config.name)
    with tempfile.TemporaryDirectory(prefix="lotc-run-") as folder:
        _write_tree(Path(folder), generated.files)
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [folder, environment.get("PYTHONPATH")])
        )
        command = [sys.executable, "-m", package, "run", *arguments.site_arguments]
        try:
            return subprocess.call(command, env=environment)
        except KeyboardInterrupt:
            return EXIT_OK


def _run_fmt(arguments) -> int:
    from lotc.frontend.formatter import format_paths

    if (status := _missing(arguments.paths)) is not None:
        return status
    return format_paths(arguments.paths, check_only=arguments.check)


def _run_explain(arguments) -> int:
    code = messages.by_code(arguments.code)
    page = DOCS / f"{arguments.code.upper()}.md"
    if code is None or not page.is_file():
        print(
            f"lotc: error: no such diagnostic code: {arguments.code}", file=sys.stderr
        )
        return EXIT_USAGE
    print(page.read_text(encoding="utf-8"), end="")
    return EXIT_OK


def _internal_error(arguments, error: Exception) -> int:
    if getattr(arguments, "traceback", False):
        traceback.print_exc()
    detail = f"{type(error).__name__}: {error}"
    if getattr(arguments, "format", None) == "json":
        span = Span.point("<lotc>", 1, 1)
        print(render_json([messages.INTERNAL_ERROR.at(span, detail=detail)]))
    print(
        f"lotc {__version__}: internal compiler error: {detail}\n"
        "this is a bug in lotc, not in your program; "
        "run again with --traceback and report it",
        file=sys.stderr,
    )
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
