"""Each IdP kind's settings form, generated from its source's marshmallow settings schema."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate
from marshmallow.utils import missing

from workers.sources import registry
from workers.sources.base import Source

# Most specific first: Url and Email are Strings, Float is a Number.
_TYPES: tuple[tuple[type[fields.Field], str], ...] = (
    (fields.Url, "url"), (fields.Email, "email"), (fields.Boolean, "boolean"),
    (fields.Integer, "integer"), (fields.Number, "number"), (fields.List, "list"),
    (fields.Dict, "object"), (fields.Nested, "object"), (fields.String, "string"),
)
PUSH_KINDS = frozenset({"scim_push"})
"""Kinds whose IdP pushes to us: they have tokens and a base URL instead of settings."""


def field_type(field: fields.Field) -> str:
    return next((name for cls, name in _TYPES if isinstance(field, cls)), "string")


def _choices(field: fields.Field) -> list[Any] | None:
    validators = field.validators if hasattr(field, "validators") else []
    for validator in validators:
        if isinstance(validator, validate.OneOf):
            return list(validator.choices)
    return None


def _default(field: fields.Field) -> Any:
    value = field.load_default
    if value is missing or callable(value):
        return None
    return value


def form(cls: type[Source]) -> list[dict[str, Any]]:
    """The form fields of a source, in the schema's order; internal fields left out."""
    out = []
    for name, field in cls.settings_schema._declared_fields.items():
        meta = field.metadata
        if meta.get("internal"):
            continue
        out.append({"name": name, "type": field_type(field), "required": bool(field.required),
                    "secret": bool(meta.get("secret")), "label": meta.get("label") or name,
                    "description": meta.get("help"), "choices": _choices(field),
                    "default": _default(field)})
    return out


def kinds() -> list[dict[str, Any]]:
    items = []
    for kind in registry.kinds():
        cls = registry.get(kind)
        items.append({"kind": kind, "title": cls.label or kind,
                      "supports_incremental": bool(cls.supports_incremental),
                      "pushes": kind in PUSH_KINDS, "fields": form(cls)})
    return items
