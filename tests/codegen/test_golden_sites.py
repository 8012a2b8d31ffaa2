"""Golden sites: LoT input, the exact generated tree and the exact stderr.

Each folder ``golden/sites/<case>/`` holds ``site/`` (the input, built with
``lotc build site``, run from the case folder without colour) and
``build.stderr`` (what lotc writes to stderr).  A case that builds also has
``expected/``, the generated package file by file; a case named after an
error code (``LOT401``) is that code's failing example and must not build.  After an
intended change rewrite them with ``python -m pytest tests/codegen
--update-golden`` (refused when CI is set) and review the diff.

Generated trees are also compiled, linted with ruff and type-checked with
``mypy --strict``: a golden file is only worth keeping if it is good code.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, bless_requested

from lotc import cli
from lotc.frontend import messages

GOLDEN = REPO / "golden" / "sites"
UPDATE_COMMAND = "python -m pytest tests/codegen --update-golden"
CASES = sorted(p for p in GOLDEN.iterdir() if (p / "site").is_dir())


def _builds(case: Path) -> bool:
    """A case builds unless it is the example of an error code."""
    if not re.fullmatch(r"LOT\d{3}", case.name):
        return True
    code = messages.by_code(case.name)
    return code is not None and not code.severity.value == "error"


BUILDING = [case for case in CASES if _builds(case)]


def _build(case: Path, out: Path, capsys, monkeypatch) -> tuple[int, str, Path]:
    monkeypatch.chdir(case)
    monkeypatch.setenv("NO_COLOR", "1")
    capsys.readouterr()
    tree = out / "tree"
    status = cli.main(["build", "site", "-o", str(out / "dist"), "--emit", str(tree)])
    # The emitted folder names the temporary directory; the golden text must not.
    err = capsys.readouterr().err.replace(str(tree), "TREE")
    return status, err, tree


def _files(root: Path) -> dict[str, bytes]:
    if not root.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _diff(name: str, expected: bytes, actual: bytes) -> str:
    return "".join(
        difflib.unified_diff(
            expected.decode(errors="replace").splitlines(keepends=True),
            actual.decode(errors="replace").splitlines(keepends=True),
            fromfile=f"{name} (recorded)",
            tofile=f"{name} (lotc now)",
        )
    )


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_build_matches_golden(case, tmp_path, capsys, monkeypatch):
    status, stderr, tree = _build(case, tmp_path, capsys, monkeypatch)
    builds = case in BUILDING
    assert status == (cli.EXIT_OK if builds else cli.EXIT_ERRORS), stderr
    actual = _files(tree) if builds else {}

    if bless_requested():
        (case / "build.stderr").write_text(stderr, encoding="utf-8")
        shutil.rmtree(case / "expected", ignore_errors=True)
        for name, data in actual.items():
            target = case / "expected" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return

    problems = []
    recorded_stderr = case / "build.stderr"
    if not recorded_stderr.is_file():
        problems.append("build.stderr is missing")
    elif recorded_stderr.read_bytes() != stderr.encode():
        problems.append(
            _diff("build.stderr", recorded_stderr.read_bytes(), stderr.encode())
        )
    expected = _files(case / "expected")
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            problems.append(f"{name}: recorded, but lotc no longer generates it")
        elif name not in expected:
            problems.append(f"{name}: generated, but not recorded")
        elif expected[name] != actual[name]:
            problems.append(_diff(name, expected[name], actual[name]))
    if problems:
        pytest.fail(
            f"golden case {case.name} changed:\n"
            + "\n".join(problems)
            + f"\nif the change is intended, update with\n{UPDATE_COMMAND}",
            pytrace=False,
        )


def test_every_build_code_has_a_golden_site():
    codes = [c.code for c in messages.all_codes() if c.code.startswith("LOT4")]
    for code in codes:
        stderr = GOLDEN / code / "build.stderr"
        assert stderr.is_file(), f"add golden/sites/{code}/site/ and {UPDATE_COMMAND}"
        assert f"[{code}]" in stderr.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def generated_trees(tmp_path_factory) -> Path:
    """Every building case generated once into one folder, one package each."""
    root = tmp_path_factory.mktemp("generated")
    for case in BUILDING:
        for name, data in _files(case / "expected").items():
            target = root / case.name / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return root


def test_generated_code_passes_ruff(generated_trees):
    # Black decides the layout and leaves long strings (digests) whole: E501 is
    # its call, not ruff's.
    command = [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated"]
    command += ["--select", "E,F,W,B", "--ignore", "E501", str(generated_trees)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# Site scripts are the user's own Python, shipped as written: mypy does not
# read them, so calling them is calling an untyped (Any) function.
MYPY_CONFIG = """\
[mypy]
strict = True
follow_imports = silent
incremental = False
cache_dir = /dev/null

[mypy-*.scripts.*]
follow_imports = skip
"""


def test_generated_code_passes_mypy_strict(generated_trees):
    config = generated_trees / "mypy.ini"
    config.write_text(MYPY_CONFIG)
    for case in BUILDING:
        root = generated_trees / case.name
        packages = [p.name for p in root.iterdir()]
        result = subprocess.run(
            [sys.executable, "-m", "mypy", "--config-file", str(config)]
            + ["--exclude", r"/scripts/"]
            + [f"-p{package}" for package in packages],
            capture_output=True,
            text=True,
            cwd=root,
            # An editable install hides lot_runtime from mypy: point at it.
            env={**os.environ, "MYPYPATH": str(REPO / "runtime_lib")},
        )
        assert result.returncode == 0, f"{case.name}:\n{result.stdout}{result.stderr}"


def test_generated_code_imports(generated_trees):
    """Every generated module imports, and the site lists every action."""
    for case in BUILDING:
        root = generated_trees / case.name
        modules = sorted(
            ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(
                ".__init__"
            )
            for path in root.rglob("*.py")
            if "scripts" not in path.parts
        )
        program = "import importlib\n" + "".join(
            f"importlib.import_module({m!r})\n" for m in modules
        )
        result = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, cwd=root
        )
        assert result.returncode == 0, f"{case.name}:\n{result.stderr}"


_SECTION = re.compile(r"^## (.+)$", re.MULTILINE)
_LOT_BLOCK = re.compile(r"```lot\n(.*?)```", re.DOTALL)
BUILD_CODES = [c for c in messages.all_codes() if c.code.startswith("LOT4")]


def _page_examples(code: str) -> dict[str, str]:
    text = (REPO / "lotc" / "docs" / "errors" / f"{code}.md").read_text()
    parts = _SECTION.split(text)[1:]
    found = {}
    for title, body in zip(parts[::2], parts[1::2], strict=True):
        block = _LOT_BLOCK.search(body)
        if block:
            found[title.strip()] = block.group(1)
    return found


@pytest.mark.parametrize("code", BUILD_CODES, ids=[c.code for c in BUILD_CODES])
def test_build_code_pages_do_what_they_say(code, tmp_path):
    """A page's failing example reports its code when built; its fix builds
    clean.  LOT407 is about site.toml and has no LoT example."""
    from lotc.compile import generate

    examples = _page_examples(code.code)
    if code.code == "LOT407":
        assert not examples
        return
    for title, expect_code in (("Example", True), ("Fix", False)):
        folder = tmp_path / title.lower()
        folder.mkdir()
        (folder / "site.toml").write_text('[site]\nname = "page-example"\n')
        (folder / "example.lot").write_text(examples[title])
        codes = [d.code for d in generate(str(folder)).diagnostics]
        if expect_code:
            assert code.code in codes, codes
        else:
            assert codes == [], codes
