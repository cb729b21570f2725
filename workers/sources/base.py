"""The narrow interface every IdP source implements, and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from marshmallow import Schema

from workers.errors import (
    AuthFailed,
    ConfigInvalid,
    NotFound,
    PermissionMissing,
    SyncError,
    Transient,
)
from workers.sync.model import GroupSlice, Snapshot, UserSlice


class SourceError(SyncError):
    """A source could not do what was asked; `message` is safe to show to the admin, `status`
    is the IdP's HTTP status when an answer caused it. A plain SourceError is a malformed or
    unexpected answer (bad request category)."""

    reason = "error"


class SourceUnreachable(SourceError, Transient):
    """DNS, TLS, refused or timed-out connection."""

    reason = "unreachable"


class SourceAuthError(SourceError, AuthFailed):
    """The IdP refused the credentials (401, bad client secret, expired key)."""

    reason = "auth"


class SourcePermissionError(SourceError, PermissionMissing):
    """The credentials are valid but lack a permission the fetch needs (403)."""

    reason = "permission"


class SourceNotFound(SourceError, NotFound):
    """The realm, tenant, domain or base DN does not exist."""

    reason = "not_found"


class SourceConfigError(SourceError, ConfigInvalid):
    """The settings themselves are wrong (bad URL, refused private address, bad key)."""

    reason = "config"


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """The answer of `test_connection()`: ok, and one sentence the admin can act on."""

    ok: bool
    message: str
    reason: str = "ok"

    @classmethod
    def failed(cls, error: SourceError) -> ConnectionCheck:
        return cls(ok=False, message=error.message, reason=error.reason)


class Source:
    """Base class of an IdP source.

    Subclasses set `kind`, `label` and `settings_schema` (a marshmallow schema whose fields
    carry `metadata={"label": ..., "help": ..., "secret": bool}`), and implement
    `test_connection()` and `fetch()`. Sources that the IdP lets read changes only set
    `supports_incremental = True` and implement `fetch_incremental()`.

    `settings` arrive validated and decrypted. `allow_private` comes from the operator's
    USERSYNC_ALLOW_PRIVATE_URLS and must be passed to every outbound URL check.
    """

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    settings_schema: ClassVar[type[Schema]]
    supports_incremental: ClassVar[bool] = False
    supports_targeted: ClassVar[bool] = False
    """True when `fetch_user` and `fetch_group` work: a webhook then costs one user, not a directory."""

    def __init__(self, settings: dict[str, Any], *, allow_private: bool = False):
        self.settings = settings
        self.allow_private = allow_private

    def test_connection(self) -> ConnectionCheck:
        raise NotImplementedError

    def fetch(self) -> Snapshot:
        """A full read: every user, group, direct membership and group parent."""
        raise NotImplementedError

    def fetch_incremental(self, previous: Snapshot, cursor: str) -> Snapshot:
        """Apply the IdP's changes since `cursor` to `previous`; return the whole new snapshot
        with its new `cursor`. Only called when `supports_incremental` is True."""
        raise NotImplementedError

    def fetch_user(self, user_id: str) -> UserSlice:
        """One user by IdP id, with their direct groups; `user` is None when the IdP has no such
        user (deleted). Only called when `supports_targeted` is True."""
        raise NotImplementedError

    def fetch_group(self, group_id: str) -> GroupSlice:
        """One group by IdP id, with its direct user members; `group` is None when it is gone.
        Only called when `supports_targeted` is True."""
        raise NotImplementedError


def secret_fields(schema: type[Schema]) -> list[str]:
    """Names of the settings fields marked secret: stored encrypted, never sent back."""
    return [name for name, f in schema._declared_fields.items() if f.metadata.get("secret")]
