"""The narrow interface every IdP source implements, and the errors it raises."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

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

if TYPE_CHECKING:
    from workers.sources.settings import Settings


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


@dataclass(frozen=True, slots=True)
class PendingChanges:
    """A change read not yet applied: `empty` when the IdP reported nothing since the cursor
    (then `cursor` is the one to move to); `apply(previous)` builds the whole new snapshot."""

    empty: bool
    cursor: str | None
    apply: Callable[[Snapshot], Snapshot]


class Source(ABC):
    """Base class of an IdP source: the one shape every connector has.

    A subclass sets `kind` (the name of its module), `label` and `settings_schema` (a
    marshmallow schema whose fields carry `metadata={"label": ..., "help": ..., "secret": bool}`),
    and fills two holes: `check()` (the steps of the connection test, returning the success
    sentence) and `fetch()`. A source the IdP lets read changes sets
    `supports_incremental = True` and overrides `fetch_changes()`, best through
    `read_changes()` (read first, applied later: a run then sees "no change" without loading
    its stored base); one that can read a single
    user or group sets `supports_targeted = True` and overrides `fetch_user()` and `fetch_group()`.

    `settings` are loaded once, by the schema, into a frozen `Settings` object (a raw mapping
    given here is loaded; bad values raise SourceConfigError). `allow_private` comes from the
    operator's USERSYNC_ALLOW_PRIVATE_URLS and must be passed to every outbound URL check.
    """

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    settings_schema: ClassVar[type[Schema]]
    supports_incremental: ClassVar[bool] = False
    supports_targeted: ClassVar[bool] = False
    """True when `fetch_user` and `fetch_group` work: a webhook then costs one user, not a directory."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # ABCMeta records abstract methods only after this hook runs: look for them directly
        abstract = any(getattr(getattr(cls, name, None), "__isabstractmethod__", False)
                       for name in dir(cls))
        if not abstract and not (cls.kind and cls.label and hasattr(cls, "settings_schema")):
            raise TypeError(f"{cls.__name__} must set kind, label and settings_schema")

    def __init__(self, settings: Mapping[str, Any], *, allow_private: bool = False):
        from workers.sources.settings import Settings, load_settings

        self.settings: Settings = (settings if isinstance(settings, Settings)
                                   else load_settings(self.settings_schema, settings))
        self.allow_private = allow_private

    @abstractmethod
    def check(self) -> str:
        """Prove the settings work (cheaply); the sentence to show, or a SourceError."""

    def test_connection(self) -> ConnectionCheck:
        """The connection test the admin runs: ok and a sentence, or what is wrong."""
        try:
            return ConnectionCheck(ok=True, message=self.check())
        except SourceError as exc:
            return ConnectionCheck.failed(exc)

    @abstractmethod
    def fetch(self) -> Snapshot:
        """A full read: every user, group, direct membership and group parent."""

    def fetch_changes(self, previous: Snapshot, cursor: str) -> Snapshot:
        """Apply the IdP's changes since `cursor` to `previous`; return the whole new snapshot
        with its new `cursor`. Sources that cannot read changes read everything."""
        return self.fetch()

    def read_changes(self, cursor: str) -> PendingChanges | None:
        """The IdP's changes since `cursor`, read but not yet applied to any snapshot, so a
        run can see that nothing changed without loading its stored base; None when this
        source reads changes only together with the base (then `fetch_changes` is used)."""
        return None

    def fetch_user(self, user_id: str) -> UserSlice:
        """One user by IdP id, with their direct groups; `user` is None when the IdP has no such
        user (deleted). Only called when `supports_targeted` is True."""
        raise NotImplementedError(f"{self.kind} cannot read one user")

    def fetch_group(self, group_id: str) -> GroupSlice:
        """One group by IdP id, with its direct user members; `group` is None when it is gone.
        Only called when `supports_targeted` is True."""
        raise NotImplementedError(f"{self.kind} cannot read one group")


def secret_fields(schema: type[Schema]) -> list[str]:
    """Names of the settings fields marked secret: stored encrypted, never sent back."""
    return [name for name, f in schema._declared_fields.items() if f.metadata.get("secret")]
