"""Every source kind, listed explicitly; a kind is named after the module that holds it."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from workers.sources.base import Source

KINDS: dict[str, str] = {
    "custom_rest": "CustomRestSource",
    "directory_file": "DirectoryFileSource",
    "entra": "EntraSource",
    "google": "GoogleSource",
    "keycloak": "KeycloakSource",
    "ldap": "LdapSource",
    "okta": "OktaSource",
    "oracle": "OracleSource",
    "scim_pull": "ScimPullSource",
    "scim_push": "ScimPushSource",
}
"""kind → the Source class in `workers.sources.<kind>`; a new connector adds one line here."""


def get(kind: str) -> type[Source]:
    """The source class for `kind`; KeyError names the known kinds."""
    if kind not in KINDS:
        raise KeyError(f"unknown source kind {kind!r}; known: {', '.join(kinds())}")
    cls = getattr(importlib.import_module(f"workers.sources.{kind}"), KINDS[kind])
    if cls.kind != kind:  # the module name is the kind: a newcomer finds it by name
        raise TypeError(f"{cls.__name__} says kind {cls.kind!r} but lives in {kind}.py")
    return cls  # type: ignore[no-any-return]


def kinds() -> list[str]:
    """Every kind, sorted."""
    return sorted(KINDS)


def build(kind: str, settings: Mapping[str, Any], secrets: Mapping[str, Any] | None = None,
          *, allow_private: bool = False, **options: Any) -> Source:
    """A ready source of `kind`: settings and decrypted secrets loaded once by its schema
    (unknown keys ignored; bad values raise SourceConfigError)."""
    from workers.sources.settings import load_settings

    cls = get(kind)
    loaded = load_settings(cls.settings_schema, {**settings, **(secrets or {})})
    return cls(loaded, allow_private=allow_private, **options)
