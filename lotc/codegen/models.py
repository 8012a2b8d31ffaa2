"""Lowering of models: one ``lot_runtime.Model`` per DEFINE MODEL.

Input: a checked ``ast.Model`` and its site.  Output: a ``ModelView`` for
``models.py.j2`` with every field, inherited ones first, its declared type
and the Python text of its default.  Models bound to topics (``WITH TOPIC``,
``AS TRIGGER`` fields) and storage clauses run as services, which the Python
back end does not have yet: they are LOT404, reported once per model.
"""

from __future__ import annotations

from dataclasses import dataclass

from lotc.codegen import expressions as ex
from lotc.codegen.naming import PyName, python_name
from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.names import model_fields
from lotc.frontend.site import Site

# Declared field types as the runtime names them; the older spellings the
# checker accepts with a warning (NUMBER, REAL, FLOAT) are DOUBLE.
_FIELD_TYPES = {
    "STRING": "STRING",
    "INT": "INT",
    "INTEGER": "INT",
    "DOUBLE": "DOUBLE",
    "NUMBER": "DOUBLE",
    "REAL": "DOUBLE",
    "FLOAT": "DOUBLE",
    "BOOL": "BOOL",
    "BOOLEAN": "BOOL",
    "TIMESTAMP": "TIMESTAMP",
    "OBJECT": "OBJECT",
    "ARRAY": "ARRAY",
}


@dataclass(frozen=True)
class FieldView:
    name: str
    type: str
    default: str | None  # Python text of a function of the execution


@dataclass(frozen=True)
class ModelView:
    name: str
    python: PyName
    source: str
    collapsed: bool
    retain: bool
    qos: int | None
    fields: tuple[FieldView, ...]


def model_class_name(name: str) -> PyName:
    return python_name(name)


def lower_model(model: ast.Model, site: Site) -> tuple[ModelView, list[Diagnostic]]:
    diagnostics = _unsupported_forms(model, site)
    options = {option.kind: option for option in model.options}
    qos = options.get("QOS")
    fields = tuple(
        _field(name, item) for name, item in model_fields(site, model).items()
    )
    view = ModelView(
        name=model.name.text,
        python=model_class_name(model.name.text),
        source=f"{model.span.file}:{model.span.line}",
        collapsed="COLLAPSED" in options,
        retain="RETAIN" in options or "KEEP" in options,
        qos=int(qos.value) if qos is not None and qos.value else None,
        fields=fields,
    )
    return view, diagnostics


def _field(name: str, item: ast.ModelField | ast.ModelCollection) -> FieldView:
    if isinstance(item, ast.ModelCollection):
        return FieldView(name, "ARRAY", None)
    if item.children:
        return FieldView(name, "OBJECT", None)
    declared = _FIELD_TYPES.get(item.type_name or "STRING", "STRING")
    default = None
    if item.source is not None and item.source.kind == "value":
        scope = ex.Scope(trigger_filter=None, reserved={"run", "lot"})
        default = f"lambda run: {ex.lower(item.source.value, scope)}"
    return FieldView(name, declared, default)


def _unsupported_forms(model: ast.Model, site: Site) -> list[Diagnostic]:
    forms = []
    if any(option.kind == "TOPIC" for option in model.options):
        forms.append("a model bound to a topic (`WITH TOPIC`)")
    for item in model.items:
        if isinstance(item, (ast.ModelStore, ast.ModelFetch)):
            forms.append("a storage clause (`STORE IN` / `FETCH FROM`)")
        elif isinstance(item, ast.ModelField) and item.source is not None:
            if item.source.kind in ("topic", "trigger"):
                forms.append("a field read from a topic (`WITH TOPIC`)")
    if not forms:
        return []
    first, *others = sorted(set(forms))
    return [
        messages.UNSUPPORTED_MODEL.at(
            model.name.span,
            name=model.name.text,
            form=first,
            notes=tuple(f"the model also uses {form}" for form in others),
            help="publish the model from an action with `PUBLISH MODEL` instead",
        )
    ]
