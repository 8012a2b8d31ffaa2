"""Python names for LoT names.

LoT names (variables, entities, fields) may hold any text; generated code may
only hold identifiers.  ``PyName`` is the one type a template or a code
printer accepts as an identifier, and ``python_name`` the one way to make it,
so a raw LoT name can never reach generated code unchecked.
"""

from __future__ import annotations

import keyword
import re

_NOT_IDENTIFIER = re.compile(r"[^0-9a-zA-Z_]+")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class PyName(str):
    """A valid Python identifier that is no keyword; made by ``python_name``."""

    __slots__ = ()


def python_name(text: str, *, snake: bool = False, taken: set[str] = frozenset()):
    """An identifier for ``text``: its letters, digits and underscores, other
    runs turned into ``_``; with ``snake``, CamelCase becomes snake_case.  A
    name in ``taken`` (and keywords) gets a suffix ``_2``, ``_3``... until it
    is free."""
    if snake:
        text = _CAMEL_BOUNDARY.sub("_", text).lower()
    base = _NOT_IDENTIFIER.sub("_", text).strip("_") or "value"
    if base[0].isdigit():
        base = "n_" + base
    if keyword.iskeyword(base) or keyword.issoftkeyword(base):
        base += "_"
    name, counter = base, 1
    while name in taken:
        counter += 1
        name = f"{base}_{counter}"
    return PyName(name)


def module_name(entity_name: str) -> PyName:
    """An entity's module: ``NormaliseBoilerSample`` -> ``normalise_boiler_sample``."""
    return python_name(entity_name, snake=True)


def package_name(site_name: str) -> PyName:
    """The import package of a site: its name with ``-`` (and other
    non-identifier characters) turned into ``_``."""
    return python_name(site_name.replace("-", "_").lower())
