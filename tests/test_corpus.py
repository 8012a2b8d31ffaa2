"""Conformance over the shared corpus of real LoT programs.

Every corpus file has a recorded expectation in tests/corpus/expectations.tsv:
its category (from the corpus REPORT: ``invalid`` for labelled negative tests,
``never-valid`` for invented syntax, ``legacy`` for older dialects, ``valid``
for the rest) and the exact set of diagnostic codes lotc reports when the file
is checked on its own.  Invalid and never-valid files must get an error;
legacy and valid files none, except names defined in sibling files.  A
non-empty reason records why a file departs from its category's rule.
Rewrite the codes with
``LOTC_BLESS=1 python -m pytest tests/test_corpus.py`` and review the diff.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, bless_requested

from lotc.compile import check_sources
from lotc.frontend.source import SourceFile

EXPECTATIONS = REPO / "tests" / "corpus" / "expectations.tsv"
# Names defined in a sibling file of the same source document: a corpus file
# checked alone cannot see them (REPORT.md section 16).
CROSS_FILE_CODES = frozenset({"LOT108", "LOT113", "LOT116", "LOT118"})


def _load() -> list[list[str]]:
    rows = []
    for line in EXPECTATIONS.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


ROWS = _load()


def _codes(corpus: Path, relative: str) -> tuple[list[str], list]:
    path = corpus / relative
    source = SourceFile(relative, path.read_bytes().decode("utf-8", errors="replace"))
    site = check_sources([source])
    return sorted({d.code for d in site.diagnostics}), site.diagnostics


def test_every_corpus_file_has_an_expectation(corpus):
    on_disk = sorted(str(p.relative_to(corpus)) for p in corpus.glob("*/*.lot"))
    recorded = sorted(row[0] for row in ROWS)
    assert on_disk == recorded


@pytest.mark.parametrize("row", ROWS, ids=[row[0].split("/")[-1] for row in ROWS])
def test_corpus_file_meets_expectation(corpus, row):
    relative, category, recorded, reason = row
    codes, diagnostics = _codes(corpus, relative)
    errors = [d for d in diagnostics if d.is_error]
    if not reason:
        if category in ("invalid", "never-valid"):
            assert errors, f"{relative} should be rejected with an error"
        else:
            own = [d for d in errors if d.code not in CROSS_FILE_CODES]
            assert not own, f"{relative} should be accepted: {own[0].message}"
    if bless_requested():
        return
    assert (",".join(codes) or "-") == recorded, (
        f"{relative}: lotc reports {','.join(codes) or '-'}, recorded {recorded}; "
        "if the change is intended run "
        "`LOTC_BLESS=1 python -m pytest tests/test_corpus.py` and review the diff"
    )


def test_bless_corpus_expectations(corpus):
    """With LOTC_BLESS=1, rewrite the codes column from what lotc reports now."""
    if not bless_requested():
        return
    lines = ["# file\tcategory\tcodes\treason"]
    for relative, category, _, reason in ROWS:
        codes, _ = _codes(corpus, relative)
        lines.append("\t".join([relative, category, ",".join(codes) or "-", reason]))
    EXPECTATIONS.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_lotc_check_over_the_whole_corpus_never_crashes(corpus):
    result = subprocess.run(
        [sys.executable, "-m", "lotc.cli", "check", "--format", "short", str(corpus)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "internal compiler error" not in result.stderr
    assert result.stderr.count("error[LOT") > 0
