"""Shared test helpers: where the repository and the shared corpus are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("LOTC_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite golden files from what lotc produces now (refused in CI)",
    )


def pytest_configure(config):
    if config.getoption("--update-golden", default=False):
        os.environ["LOTC_BLESS"] = "1"


def bless_requested() -> bool:
    """True when LOTC_BLESS=1 (or ``pytest --update-golden``) asks to rewrite
    recorded expectations.

    Refused under CI: recorded outputs change only on a developer's machine,
    where the diff is reviewed before it is committed.
    """
    if os.environ.get("LOTC_BLESS") != "1":
        return False
    if os.environ.get("CI"):
        pytest.fail("LOTC_BLESS=1 is refused when CI is set")
    return True


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the shared corpus is missing: {CORPUS} (set LOTC_SHARED)")
    return CORPUS


@pytest.fixture
def mosquitto(tmp_path: Path):
    """A fresh, real mosquitto on a free port (API: tests/support/mosquitto.py)."""
    from support.mosquitto import Mosquitto

    with Mosquitto(tmp_path / "mosquitto") as broker:
        yield broker


@pytest.fixture
def postgres(tmp_path: Path):
    """A fresh, real PostgreSQL on a free port (API: tests/support/postgres.py)."""
    from support.postgres import Postgres

    with Postgres(tmp_path / "postgres") as server:
        yield server
