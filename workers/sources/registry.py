"""Finds source classes by kind: every module in this package that defines a Source registers."""

from __future__ import annotations

import importlib
import pkgutil

import workers.sources as package
from workers.sources.base import Source

_NOT_SOURCES = {"base", "registry", "http", "http_auth", "http_errors", "json_path", "scim_paging",
                "ldap_settings", "ldap_errors", "custom_rest_settings"}
_registry: dict[str, type[Source]] = {}


def register(cls: type[Source]) -> type[Source]:
    """Class decorator: make `cls` available under `cls.kind`."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    _registry[cls.kind] = cls
    return cls


def _load_all() -> None:
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in _NOT_SOURCES and not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")


def get(kind: str) -> type[Source]:
    """The source class for `kind`; KeyError names the known kinds."""
    if kind not in _registry:
        _load_all()
    try:
        return _registry[kind]
    except KeyError:
        raise KeyError(f"unknown source kind {kind!r}; known: {', '.join(kinds())}") from None


def kinds() -> list[str]:
    """Every registered kind, sorted."""
    _load_all()
    return sorted(_registry)
