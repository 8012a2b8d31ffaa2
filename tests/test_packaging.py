"""Packaging: a regular (non-editable) wheel carries every page `lotc explain`
prints, at the place the installed CLI looks for them.

The pages live in ``lotc/docs/errors/`` (``docs/errors`` at the repository
root links there), and ``pyproject.toml`` ships them as package data.  An
editable install would find them in the checkout either way, so the wheel
itself is built and read.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO

from lotc import cli
from lotc.frontend import messages


def test_wheel_ships_every_error_page(tmp_path: Path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("lotc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    # The CLI reads the pages next to its own module, as installed.
    folder = cli.DOCS.relative_to(Path(cli.__file__).resolve().parent.parent)
    missing = [
        code.code
        for code in messages.all_codes()
        if f"{folder.as_posix()}/{code.code}.md" not in names
    ]
    assert missing == []


def test_wheel_ships_the_templates_and_code_generation(tmp_path: Path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["--quiet", "--wheel-dir", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("lotc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = sorted(p.name for p in (REPO / "lotc" / "templates").glob("*.j2"))
    assert templates
    missing = [name for name in templates if f"lotc/templates/{name}" not in names]
    assert missing == []
    assert "lotc/codegen/routes/__init__.py" in names
