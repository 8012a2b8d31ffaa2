"""Golden diagnostics: one failing example per code, and its exact stderr.

Each ``golden/diagnostics/LOTnnn.lot`` (or ``.lotnb``) is checked with
``lotc check`` from the repository root, without colour, and what lotc writes
to stderr must equal ``LOTnnn.stderr`` byte for byte.  A code that needs more
than one file (a Python script next to the LoT that calls it) has a folder
``LOTnnn/`` instead, checked as one site, with ``LOTnnn.stderr`` beside it.
After an intended change, rewrite the snapshots with the command in
``BLESS_COMMAND`` and review the diff before committing; the flag is refused
when ``CI`` is set.  A snapshot with no input next to it is an error.

The same module checks that every registered code has such an example and a
page under ``docs/errors/`` that ``lotc explain`` prints, and that the failing
and corrected examples on each page do what the page says.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest
from conftest import REPO, bless_requested

from lotc import cli
from lotc.compile import check_sources
from lotc.frontend import messages
from lotc.frontend.source import SourceFile

GOLDEN = REPO / "golden" / "diagnostics"
DOCS = REPO / "lotc" / "docs" / "errors"
INPUT_SUFFIXES = (".lot", ".lotnb")
BLESS_COMMAND = "LOTC_BLESS=1 python -m pytest tests/test_golden_diagnostics.py"

# Codes that no input reaches with the current front end.  Each entry is a
# strict xfail: the day the parser emits the code and a golden example is
# added, the test passes unexpectedly and the entry must be removed.
NOT_YET_EMITTED: dict[str, str] = {}
# The internal error is a bug in lotc by definition: no input may produce it.
NO_GOLDEN = {"LOT900"}
# Code generation codes come from `lotc build`, not `lotc check`: their golden
# cases are sites under golden/sites/ (tests/codegen/test_golden_sites.py).
BUILD_CODES = {code.code for code in messages.all_codes() if code.code[3] == "4"}

CODES = messages.all_codes()


def _is_input(path: Path) -> bool:
    """A golden input: a LoT file or notebook, or a folder checked as one site."""
    if path.is_dir():
        return re.fullmatch(r"LOT\d{3}", path.name) is not None
    return path.suffix in INPUT_SUFFIXES


CASES = sorted(p for p in GOLDEN.iterdir() if _is_input(p))


def _run_check(path: Path, capsys, monkeypatch) -> tuple[int, str]:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("NO_COLOR", "1")
    capsys.readouterr()
    status = cli.main(["check", path.relative_to(REPO).as_posix()])
    return status, capsys.readouterr().err


def _snapshot(path: Path) -> Path:
    return path.with_suffix(".stderr")


# ---------------------------------------------------------------- snapshots


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_stderr_matches_snapshot(case, capsys, monkeypatch):
    status, actual = _run_check(case, capsys, monkeypatch)
    snapshot = _snapshot(case)

    has_errors = any(line.startswith("error[") for line in actual.splitlines())
    assert status == (cli.EXIT_ERRORS if has_errors else cli.EXIT_OK), actual
    if bless_requested():
        snapshot.write_text(actual, encoding="utf-8")
        return
    if not snapshot.is_file():
        pytest.fail(f"{snapshot.name} does not exist; create it with\n{BLESS_COMMAND}")
    expected = snapshot.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"{snapshot.name} (recorded)",
                tofile=f"{snapshot.name} (lotc now)",
            )
        )
        pytest.fail(
            f"stderr of `lotc check {case.relative_to(REPO).as_posix()}` changed:\n"
            f"{diff}\nif the change is intended, update the snapshot with\n"
            f"{BLESS_COMMAND}\nand review the diff",
            pytrace=False,
        )


def test_no_unused_snapshots():
    orphans = sorted(
        snapshot.name
        for snapshot in GOLDEN.glob("*.stderr")
        if not any(snapshot.with_suffix(s).is_file() for s in INPUT_SUFFIXES)
        and not snapshot.with_suffix("").is_dir()
    )
    assert not orphans, (
        f"snapshots with no .lot, .lotnb or folder next to them: "
        f"{', '.join(orphans)}; delete them, or restore their inputs"
    )


# ---------------------------------------------------------------- coverage


def _golden_input(code: str) -> Path | None:
    for suffix in INPUT_SUFFIXES:
        if (GOLDEN / f"{code}{suffix}").is_file():
            return GOLDEN / f"{code}{suffix}"
    if (GOLDEN / code).is_dir():
        return GOLDEN / code
    return None


def _coverage_params():
    for code in CODES:
        if code.code in NO_GOLDEN or code.code in BUILD_CODES:
            continue
        marks = ()
        if code.code in NOT_YET_EMITTED:
            marks = pytest.mark.xfail(reason=NOT_YET_EMITTED[code.code], strict=True)
        yield pytest.param(code, id=code.code, marks=marks)


@pytest.mark.parametrize("code", list(_coverage_params()))
def test_every_code_has_a_failing_example(code):
    example = _golden_input(code.code)
    assert example is not None, f"add golden/diagnostics/{code.code}.lot"
    snapshot = _snapshot(example)
    assert snapshot.is_file(), f"run {BLESS_COMMAND}"
    assert f"[{code.code}]" in snapshot.read_text(encoding="utf-8")


def test_codes_without_examples_are_still_registered():
    registered = {code.code for code in CODES}
    assert set(NOT_YET_EMITTED) | NO_GOLDEN <= registered


# ---------------------------------------------------------------- docs pages


def _page(code: messages.Code) -> Path:
    return DOCS / f"{code.code}.md"


@pytest.mark.parametrize("code", CODES, ids=[c.code for c in CODES])
def test_every_code_has_a_page(code):
    page = _page(code)
    assert page.is_file(), f"write lotc/docs/errors/{code.code}.md"
    lines = page.read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"# {code.code}: {code.slug}"
    assert f"**Severity:** {code.severity.value}" in lines


def test_no_page_without_a_code():
    registered = {f"{code.code}.md" for code in CODES}
    stale = sorted(p.name for p in DOCS.glob("*.md") if p.name not in registered)
    assert not stale, f"pages for codes that are not registered: {stale}"


@pytest.mark.parametrize("code", CODES, ids=[c.code for c in CODES])
def test_explain_prints_the_page(code, capsys):
    capsys.readouterr()
    status = cli.main(["explain", code.code.lower()])
    assert status == cli.EXIT_OK
    assert capsys.readouterr().out == _page(code).read_text(encoding="utf-8")


def test_explain_unknown_code_is_a_usage_error(capsys):
    assert cli.main(["explain", "LOT999"]) == cli.EXIT_USAGE
    assert "no such diagnostic code: LOT999" in capsys.readouterr().err


_SECTION = re.compile(r"^## (.+)$", re.MULTILINE)
_LOT_BLOCK = re.compile(r"```lot\n(.*?)```", re.DOTALL)
_PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _examples(code: messages.Code) -> dict[str, tuple[str, list[str]]]:
    """The first ```lot block of each section of a page, by section title.

    Each comes with the section's ```python blocks: the site scripts the LoT
    calls (a block without a ``# Script Name:`` line is not a script).
    """
    text = _page(code).read_text(encoding="utf-8")
    parts = _SECTION.split(text)[1:]
    found = {}
    for title, body in zip(parts[::2], parts[1::2], strict=True):
        block = _LOT_BLOCK.search(body)
        if block:
            found[title.strip()] = (block.group(1), _PYTHON_BLOCK.findall(body))
    return found


def _reported(example: tuple[str, list[str]], name: str) -> list:
    text, scripts = example
    named = [(f"{name}-{n}.py", script) for n, script in enumerate(scripts, 1)]
    return check_sources([SourceFile(name, text)], scripts=named).diagnostics


# Internal errors are not about LoT text: their pages show no LoT example.
NOT_ABOUT_LOT = {"LOT900", "LOT901"}
CHECK_CODES = [
    c for c in CODES if c.code not in BUILD_CODES and c.code not in NOT_ABOUT_LOT
]


@pytest.mark.parametrize("code", sorted(NOT_ABOUT_LOT))
def test_internal_error_pages_show_no_lot_example(code):
    assert "Example" not in _examples(messages.by_code(code))


@pytest.mark.parametrize("code", CHECK_CODES, ids=[c.code for c in CHECK_CODES])
def test_page_examples_do_what_the_page_says(code):
    """The failing example reports the code; the corrected one reports nothing.
    (Pages of build codes are tested by tests/codegen/test_golden_sites.py.)"""
    examples = _examples(code)
    assert "Example" in examples, f"{code.code}.md shows no failing LoT example"

    failing = _reported(examples["Example"], f"{code.code}-example.lot")
    if code.code not in NOT_YET_EMITTED:
        assert code.code in [d.code for d in failing], [d.code for d in failing]

    assert "Fix" in examples, f"{code.code}.md shows no corrected version"
    fixed = _reported(examples["Fix"], f"{code.code}-fix.lot")
    assert not fixed, [(d.code, d.span.line, d.message) for d in fixed]
