"""A connector's settings: its marshmallow schema loads them once into a frozen, typed object."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields

from workers.sources.base import SourceConfigError

_TYPES: tuple[tuple[type[fields.Field], type], ...] = (
    (fields.Boolean, bool), (fields.Integer, int), (fields.Float, float), (fields.String, str))


class Settings(Mapping[str, Any]):
    """Base of every kind's settings class: frozen fields named after the schema's, readable
    as attributes (`settings.org_url`) and, for code that passes them on, as a mapping."""

    def __getitem__(self, name: str) -> Any:
        # connectors read settings per record: the instance dict holds exactly the fields
        return self.__dict__[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    @classmethod
    def _names(cls) -> tuple[str, ...]:
        return cls.__match_args__  # type: ignore[attr-defined, no-any-return]

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests and the connection test use it)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


_classes: dict[type[Schema], type[Settings]] = {}


def settings_class(schema: type[Schema]) -> type[Settings]:
    """The frozen settings dataclass of `schema`: one field per schema field, typed by it."""
    if schema not in _classes:
        clash = set(schema._declared_fields) & set(dir(Settings))
        if clash:
            raise TypeError(f"{schema.__name__} has fields named like mapping methods: {clash}")
        specs = [(name, _python_type(field) | None, dataclasses.field(default=None))
                 for name, field in schema._declared_fields.items()]
        name = schema.__name__.removesuffix("Schema").removesuffix("Settings") + "Settings"
        _classes[schema] = dataclasses.make_dataclass(
            name, specs, bases=(Settings,), frozen=True, eq=True,
            namespace={"__doc__": f"Loaded settings of {schema.__name__}."})
    return _classes[schema]


def _python_type(field: fields.Field) -> type:
    return next((py for kind, py in _TYPES if isinstance(field, kind)), object)


def load_settings(schema: type[Schema], raw: Mapping[str, Any]) -> Settings:
    """Validate `raw` with `schema` (unknown keys ignored) into its settings object; a
    SourceConfigError naming every bad field otherwise."""
    known = schema._declared_fields
    try:
        data = schema().load({k: v for k, v in raw.items() if k in known})
    except ValidationError as exc:
        problems = ", ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                             for k, v in exc.normalized_messages().items())
        raise SourceConfigError(f"Invalid settings ({problems}).") from None
    return settings_class(schema)(**{name: data.get(name) for name in known})


def field_meta(label: str, help_: str, secret: bool = False) -> dict[str, Any]:
    """The metadata the admin page renders a settings field with."""
    return {"label": label, "help": help_, "secret": secret}
