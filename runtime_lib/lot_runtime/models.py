"""DEFINE MODEL at run time: fields, coercion to declared types, JSON encoding.

A COLLAPSED model encodes as one flat JSON object with its fields in
declaration order (inherited ones first); any other model as
`{"ModelName": {...}}`. A missing value takes the field's default, a callable
of the execution evaluated at each publish, or else JSON null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import values

if TYPE_CHECKING:
    from .execution import Execution

__all__ = ["Field", "Model"]

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

    def coerce(self, value: Any) -> Any:
        """The value as the field's type; EMPTY stays null."""
        if value is None:
            return None
        convert: Callable[[Any], Any] = _COERCE.get(self.type.upper(), values.as_string)
        return convert(value)


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

    def __post_init__(self) -> None:
        # Inheritance: the parent's fields in order, a redefined one replaced
        # in place, then the model's own new fields.
        merged: dict[str, Field] = {}
        if self.base is not None:
            merged.update((f.name, f) for f in self.base.all_fields)
        merged.update((f.name, f) for f in self.fields)
        object.__setattr__(self, "all_fields", tuple(merged.values()))

    def record(self, run: Execution, given: Mapping[str, Any]) -> dict[str, Any]:
        """The field values to publish, coerced, in declaration order."""
        out: dict[str, Any] = {}
        for f in self.all_fields:
            if f.name in given:
                value = given[f.name]
            elif f.default is not None:
                value = f.default(run)
            else:
                value = None
            out[f.name] = f.coerce(value)
        _set_members(out, given)
        return out

    def encode(self, run: Execution, given: Mapping[str, Any]) -> bytes:
        record = self.record(run, given)
        body: Any = record if self.collapsed else {self.name: record}
        return values.json_text(body).encode()


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
