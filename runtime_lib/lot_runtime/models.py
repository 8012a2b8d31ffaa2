"""DEFINE MODEL at run time: fields, coercion to declared types, JSON encoding.

A COLLAPSED model encodes as one flat JSON object with its fields in
declaration order (inherited ones first); any other model as
`{"ModelName": {...}}`. A missing value takes the field's default, a callable
of the execution evaluated at each publish, or else JSON null.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import values

# JSON text of a string, non-ASCII kept (the C encoder json.dumps uses).
_string: Callable[[str], str] = json.encoder.encode_basestring

if TYPE_CHECKING:
    from .execution import Execution

__all__ = ["Field", "Model"]

# A model field's encoding step: name, JSON key text, conversion, default.
_Step = tuple[str, str, Callable[[Any], Any], "Callable[[Execution], Any] | None"]

_COERCE: dict[str, Callable[[Any], Any]] = {
    "INT": values.as_int,
    "DOUBLE": values.as_double,
    "BOOL": values.as_bool,
    "STRING": values.as_string,
    "TEXT": values.as_string,
    "TIMESTAMP": values.as_timestamp,
    "OBJECT": values.as_json,
    "ARRAY": values.as_json,
    "JSON": values.as_json,
    "COLLECTION": values.as_json,
}


@dataclass(frozen=True, slots=True)
class Field:
    """One model field: its name, LoT type and optional default."""

    name: str
    type: str
    default: Callable[[Execution], Any] | None = None
    convert: Callable[[Any], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Looked up once: encoding a message only calls it.
        convert = _COERCE.get(self.type.upper(), values.as_string)
        object.__setattr__(self, "convert", convert)

    def coerce(self, value: Any) -> Any:
        """The value as the field's type; EMPTY stays null."""
        if value is None:
            return None
        return self.convert(value)


@dataclass(frozen=True, slots=True)
class Model:
    """A model's schema and how it is published."""

    name: str
    fields: tuple[Field, ...] = ()
    collapsed: bool = False
    retain: bool = False
    qos: int | None = None
    base: Model | None = None
    all_fields: tuple[Field, ...] = field(init=False, repr=False)
    _plan: tuple[_Step, ...] = field(init=False, repr=False, compare=False)
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _open: str = field(init=False, repr=False, compare=False)
    _close: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Inheritance: the parent's fields in order, a redefined field replaced
        # in place, then the model's own new fields.
        merged: dict[str, Field] = {}
        if self.base is not None:
            merged.update((f.name, f) for f in self.base.all_fields)
        merged.update((f.name, f) for f in self.fields)
        object.__setattr__(self, "all_fields", tuple(merged.values()))
        # The encoding plan, prepared once: each field's JSON key text, how
        # to convert a value to its type and how to write the result.
        plan = tuple(
            (f.name, json.dumps(f.name, ensure_ascii=False) + ":", f.convert, f.default)
            for f in self.all_fields
        )
        object.__setattr__(self, "_plan", plan)
        object.__setattr__(self, "_names", frozenset(merged))
        prefix = "{" if self.collapsed else "{" + json.dumps(self.name) + ":{"
        object.__setattr__(self, "_open", prefix)
        object.__setattr__(self, "_close", "}" if self.collapsed else "}}")

    def record(self, run: Execution, given: Mapping[str, Any]) -> dict[str, Any]:
        """The field values to publish, coerced, in declaration order."""
        out: dict[str, Any] = {}
        for name, _, convert, default in self._plan:
            if name in given:
                value = given[name]
            elif default is not None:
                value = default(run)
            else:
                value = None
            out[name] = None if value is None else convert(value)
        _set_members(out, given)
        return out

    def encode(self, run: Execution, given: Mapping[str, Any]) -> bytes:
        """The JSON bytes published for `given` (see the module docstring)."""
        if not self._names.issuperset(given):  # members of OBJECT fields
            record = self.record(run, given)
            body: Any = record if self.collapsed else {self.name: record}
            return values.json_text(body).encode()
        parts = []
        for name, key, convert, default in self._plan:
            if name in given:
                value = given[name]
            elif default is not None:
                value = default(run)
            else:
                value = None
            parts.append(key + _json(None if value is None else convert(value)))
        return (self._open + ",".join(parts) + self._close).encode()


def _json(value: Any) -> str:
    """One coerced field value as JSON text, as `values.json_text` writes it."""
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is float:
        return values.json_number(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return str(value)
    return values.json_text(value)


def _set_members(out: dict[str, Any], given: Mapping[str, Any]) -> None:
    """Dotted names (`limits.max = 5`) set members inside an OBJECT field."""
    for name, value in given.items():
        if "." not in name:
            continue
        head, *path = name.split(".")
        if head not in out:
            continue
        node = out[head]
        if not isinstance(node, dict):
            node = out[head] = {}
        for step in path[:-1]:
            node = node.setdefault(step, {})
        node[path[-1]] = value
