"""A connection's IdP settings as the admin API takes them: validated per field, secrets
write-only (answered "set"/"not set"), merged over the stored ones on change."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import ValidationError

from app import extensions
from app.admin.errors import ApiError, flatten, validation
from app.admin.forms import PUSH_KINDS
from app.models import Connection
from app.scim import tokens as scim_tokens
from workers.sources import registry
from workers.sources.base import Source, secret_fields

SET, NOT_SET = "set", "not set"
SERVER_FILE_KINDS = {"directory_file": "path"}
"""Settings that read files on our own servers: an operator's tool, refused outside development."""


def source_class(kind: str, path: str = "kind") -> type[Source]:
    try:
        return registry.get(kind)
    except KeyError:
        raise validation({path: [f"Unknown kind; one of: {', '.join(registry.kinds())}."]}) from None


def _public(cls: type[Source]) -> set[str]:
    return {n for n, f in cls.settings_schema._declared_fields.items() if not f.metadata.get("internal")}


def validated(kind: str, settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain, secret) settings after the kind's schema; errors keyed `settings.<field>`."""
    cls = source_class(kind)
    allowed = _public(cls)
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise validation({f"settings.{name}": ["Unknown field."] for name in unknown})
    field = SERVER_FILE_KINDS.get(kind)
    if field and settings.get(field) and current_app.config.get("USERSYNC_ENV") != "development":
        raise validation({f"settings.{field}": [
            "Files on the server are for the operator; upload the file's content instead."]})
    try:
        loaded = cls.settings_schema().load(settings)
    except ValidationError as exc:
        raise validation(flatten(exc.messages, "settings")) from None
    secrets = set(secret_fields(cls.settings_schema))
    dumped = cls.settings_schema().dump(loaded)
    return ({k: v for k, v in dumped.items() if k not in secrets and k in allowed},
            {k: loaded[k] for k in secrets if loaded.get(k) is not None})


def merged(conn: Connection, changes: dict[str, Any]) -> dict[str, Any]:
    """The stored settings (secrets decrypted) with `changes` over them; a secret sent as
    null, "" or "set" keeps its stored value."""
    cls = source_class(conn.kind)
    secrets = set(secret_fields(cls.settings_schema))
    current = {**(conn.settings or {}), **conn.get_secrets(extensions.secrets.decrypt)}
    current = {k: v for k, v in current.items() if k in _public(cls)}
    for key, value in changes.items():
        if key in secrets and value in (None, "", SET):
            continue
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    return current


def store(conn: Connection, kind: str, settings: dict[str, Any]) -> None:
    plain, secret = validated(kind, settings)
    conn.settings = plain
    conn.set_secrets(secret, extensions.secrets.encrypt)


def redacted(conn: Connection) -> dict[str, Any]:
    """What the admin may read back: plain settings, and only whether each secret is set."""
    try:
        cls = registry.get(conn.kind)
    except KeyError:
        return dict(conn.settings or {})
    stored = set(conn.get_secrets(extensions.secrets.decrypt)) if conn.secrets_encrypted else set()
    out = {k: v for k, v in (conn.settings or {}).items() if k in _public(cls)}
    for name in secret_fields(cls.settings_schema):
        out[name] = SET if name in stored else NOT_SET
    return out


def scim_base_url(session, conn: Connection) -> str | None:  # type: ignore[no-untyped-def]
    """The connection's SCIM base URL (its endpoint made on first ask) for push kinds."""
    if conn.kind not in PUSH_KINDS:
        return None
    try:
        endpoint = scim_tokens.endpoint(session, conn.id)
    except scim_tokens.TokenError as exc:
        raise ApiError(409, str(exc)) from None
    return current_app.config["BASE_URL"].rstrip("/") + scim_tokens.base_path(endpoint.endpoint_id)
