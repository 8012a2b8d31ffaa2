"""The same sources give byte-identical wheels: across runs, hash seeds and
the folder lotc is started from."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile

from conftest import REPO

EXAMPLE = REPO / "examples" / "boiler-normaliser"


def _build(out, seed: str, cwd) -> dict[str, str]:
    site = os.path.relpath(EXAMPLE, cwd)
    subprocess.run(
        [sys.executable, "-m", "lotc.cli", "build", site, "-o", str(out)],
        check=True,
        capture_output=True,
        cwd=cwd,
        env={**os.environ, "PYTHONHASHSEED": seed},
    )
    return {
        wheel.name: hashlib.sha256(wheel.read_bytes()).hexdigest()
        for wheel in sorted(out.glob("*.whl"))
    }


def test_two_builds_with_different_hash_seeds_are_identical(tmp_path):
    first = _build(tmp_path / "a", "1", REPO)
    second = _build(tmp_path / "b", "4242", EXAMPLE.parent)
    assert len(first) == 2
    assert first == second


def test_wheel_members_carry_no_build_time_or_absolute_path(tmp_path):
    _build(tmp_path / "a", "0", REPO)
    [site_wheel] = (tmp_path / "a").glob("boiler_normaliser-*.whl")
    with zipfile.ZipFile(site_wheel) as archive:
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
            text = archive.read(info).decode(errors="replace")
            assert str(REPO) not in text, info.filename
            assert str(tmp_path) not in text, info.filename
        names = archive.namelist()
    assert "boiler_normaliser/actions/normalise_boiler_sample.py" in names
    assert "boiler_normaliser-0.1.0.dist-info/RECORD" in names
