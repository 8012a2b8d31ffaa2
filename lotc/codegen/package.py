"""Packaging: the generated site and the runtime as installable wheels.

Input: the rendered files of a site and its name and version.  Output: two
``py3-none-any`` wheels in the output folder, the site's and
``lot_runtime``'s, written with the ``wheel`` project's ``WheelFile`` (which
keeps RECORD).  Every archive member gets the same fixed date and mode, and
members are written in sorted order, so the same inputs give byte-identical
wheels.  The runtime wheel is made from the installed ``lot_runtime``
package and its own installed METADATA, so a site ships exactly the runtime
it was compiled and tested against.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from wheel.wheelfile import WheelFile

import lotc

RUNTIME_DISTRIBUTION = "lot-runtime"
# 1980-01-01, the first date a zip archive can hold.
_FIXED_EPOCH = 315532800
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_TAG = "py3-none-any"


def wheel_stem(distribution: str, version: str) -> str:
    """The escaped name-version prefix of a wheel file (PEP 427)."""
    return f"{re.sub(r'[-_.]+', '_', distribution).lower()}-{version}"


def runtime_version() -> str:
    return importlib.metadata.version(RUNTIME_DISTRIBUTION)


def write_site_wheel(
    out: Path,
    *,
    name: str,
    version: str,
    package: str,
    files: dict[str, bytes],
    extras: tuple[str, ...] = (),
) -> Path:
    """Write the site's wheel; ``files`` are relative to the wheel's root."""
    requirement = RUNTIME_DISTRIBUTION
    if extras:
        requirement += "[" + ",".join(sorted(extras)) + "]"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.1",
            f"Name: {name}",
            f"Version: {version}",
            f"Summary: Site {name}, compiled from LoT by lotc {lotc.__version__}",
            "Requires-Python: >=3.11",
            f"Requires-Dist: {requirement}=={runtime_version()}",
            "",
        ]
    )
    entry_points = f"[console_scripts]\n{name} = {package}.__main__:cli\n"
    stem = wheel_stem(name, version)
    members = dict(files)
    members[f"{stem}.dist-info/METADATA"] = metadata.encode()
    members[f"{stem}.dist-info/entry_points.txt"] = entry_points.encode()
    members[f"{stem}.dist-info/top_level.txt"] = f"{package}\n".encode()
    return _write(out / f"{stem}-{_TAG}.whl", members, stem)


def write_runtime_wheel(out: Path) -> Path:
    """Write ``lot_runtime``'s wheel from the installed package."""
    import lot_runtime

    distribution = importlib.metadata.distribution(RUNTIME_DISTRIBUTION)
    version = distribution.version
    stem = wheel_stem(RUNTIME_DISTRIBUTION, version)
    root = Path(lot_runtime.__file__).parent
    members = {
        f"lot_runtime/{path.relative_to(root).as_posix()}": path.read_bytes()
        for path in _package_files(root)
    }
    metadata = distribution.read_text("METADATA") or ""
    members[f"{stem}.dist-info/METADATA"] = metadata.encode()
    members[f"{stem}.dist-info/top_level.txt"] = b"lot_runtime\n"
    return _write(out / f"{stem}-{_TAG}.whl", members, stem)


def _package_files(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and (path.suffix == ".py" or path.name == "py.typed")
    )


def _write(path: Path, members: dict[str, bytes], stem: str) -> Path:
    members[f"{stem}.dist-info/WHEEL"] = (
        "Wheel-Version: 1.0\n"
        f"Generator: lotc {lotc.__version__}\n"
        "Root-Is-Purelib: true\n"
        f"Tag: {_TAG}\n"
    ).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and moved into place, so a failed build never leaves a
    # truncated wheel where an old good one was.
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        temporary = Path(scratch) / path.name
        with _fixed_clock(), WheelFile(temporary, "w") as wheel:
            for name in sorted(members):
                info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                wheel.writestr(info, members[name])
        temporary.replace(path)
    return path


@contextlib.contextmanager
def _fixed_clock() -> Iterator[None]:
    """WheelFile dates RECORD from SOURCE_DATE_EPOCH: pin it while writing."""
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(_FIXED_EPOCH)
    try:
        yield
    finally:
        if saved is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved
