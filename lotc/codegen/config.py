"""The site's own settings: ``SITE/site.toml``.

Input: the site folder.  Output: a ``SiteConfig`` (name, version, default
QoS) and LOT407 diagnostics for a file that does not parse or holds values of
the wrong kind.  Without the file, the name is the folder's (``lot-`` before
it when it would hide a Python module) and the version ``0.1.0``.  The name
is the distribution name and console script of the built site; its import
package is the name with ``-`` turned into ``_``.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from lotc.frontend import messages
from lotc.frontend.diagnostics import Diagnostic, Span

DEFAULT_VERSION = "0.1.0"
# A distribution name that is also a usable console script (PEP 508 names,
# kept to lower case so the wheel's file name is the name as written).
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
# Import packages a site may not take: the runtime and lotc itself.
_TAKEN = frozenset({"lot_runtime", "lotc"})
_VERSION = re.compile(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?")


@dataclass(frozen=True)
class SiteConfig:
    name: str
    version: str = DEFAULT_VERSION
    qos: int = 1


def read_config(folder: Path, display: str) -> tuple[SiteConfig, list[Diagnostic]]:
    """The settings of the site in ``folder``; ``display`` is the folder as
    diagnostics name it."""
    default_name = _default_name(folder)
    path = folder / "site.toml"
    shown = f"{display.rstrip('/')}/site.toml" if display else "site.toml"
    if not path.is_file():
        return SiteConfig(default_name), []
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as error:
        return SiteConfig(default_name), [_problem(shown, str(error))]
    except tomllib.TOMLDecodeError as error:
        line = getattr(error, "lineno", 1) or 1
        reason = str(error).split(" (at ")[0].lower()
        return SiteConfig(default_name), [_problem(shown, reason, line)]

    def at_key(key: str) -> int:
        for number, line in enumerate(text.splitlines(), 1):
            if re.match(rf"\s*{key}\s*=", line):
                return number
        return 1

    site = data.get("site", {})
    problems = []
    if not isinstance(site, dict):
        return SiteConfig(default_name), [_problem(shown, "`site` must be a table")]
    name = site.get("name", default_name)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        reason = f"name {name!r} must be lower-case letters, digits and -"
        problems.append(_problem(shown, reason, at_key("name")))
        name = default_name
    version = site.get("version", DEFAULT_VERSION)
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        reason = f"version {version!r} is not a version number"
        problems.append(_problem(shown, reason, at_key("version")))
        version = DEFAULT_VERSION
    package = name.replace("-", "_")
    if package in sys.stdlib_module_names or package in _TAKEN:
        reason = f"name {name!r} would hide Python's own module `{package}`"
        problems.append(_problem(shown, reason, at_key("name")))
    qos = site.get("qos", 1)
    if qos not in (0, 1) or isinstance(qos, bool):
        problems.append(
            _problem(shown, f"qos must be 0 or 1, not {qos!r}", at_key("qos"))
        )
        qos = 1
    return SiteConfig(name, version, qos), problems


def _default_name(folder: Path) -> str:
    """The folder's name; ``lot-`` before it when that would hide a Python
    module (a folder called ``site`` builds package ``lot_site``)."""
    text = re.sub(r"[^a-z0-9]+", "-", folder.resolve().name.lower()).strip("-")
    if not text or text.replace("-", "_") in sys.stdlib_module_names | _TAKEN:
        text = f"lot-{text}".rstrip("-")
    return text


def _problem(file: str, reason: str, line: int = 1) -> Diagnostic:
    return messages.BAD_SITE_TOML.at(Span.point(file, line, 1), reason=reason)
