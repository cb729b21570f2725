"""The one error tree of a sync: each category says what the run does when it meets one.

| category      | raised for                                   | what a run does                       |
|---------------|----------------------------------------------|---------------------------------------|
| `Transient`   | 429 / 5xx / no answer, after every retry     | record the op failed, go on; the next |
|               |                                              | run tries again                       |
| `NotFound`    | 404: the group, account or realm is gone     | record it, forget the stale link so   |
|               |                                              | the next run finds or creates anew    |
| `BadRequest`  | 400 and other 4xx, a malformed answer        | record it and go on                   |
| `Stop`        | the credential, its permission or the        | stop sending: the rest is recorded    |
|               | settings are wrong; nothing further can work | skipped and the run ends              |
| `QuotaExhausted` (a `Stop`) | the hourly points budget is spent | stop, and defer the run to the reset |

Every error carries `message`, one sentence safe to show to the admin (no secret, no
stack), and `status`, the HTTP status of the answer that caused it (None when no answer
came back), both given where it is raised. The Atlassian client (`workers.atlassian.errors`)
and the IdP sources (`workers.sources.base`) subclass these; catch the category to decide,
the subclass to explain.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class Category(StrEnum):
    """What an error makes a run do (see the table above)."""

    TRANSIENT = "transient"
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"
    STOP = "stop"


class SyncError(Exception):
    """Base of every error a sync decides on: `message` for the admin, `status` from HTTP."""

    category: ClassVar[Category] = Category.BAD_REQUEST

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Transient(SyncError):
    """Busy, failing or unreachable after every retry: the next run tries again."""

    category = Category.TRANSIENT


class NotFound(SyncError):
    """What the request named does not exist (any more): its link is stale."""

    category = Category.NOT_FOUND


class BadRequest(SyncError):
    """The other side refused this one request as invalid: record it and go on."""

    category = Category.BAD_REQUEST


class Stop(SyncError):
    """Nothing further can succeed (credential, permission, settings): abort the run."""

    category = Category.STOP


class AuthFailed(Stop):
    """The credential is wrong, expired or revoked (401): reconnect it."""


class PermissionMissing(Stop):
    """The credential is valid but may not do what the run needs (403)."""


class ConfigInvalid(Stop):
    """The connection's or the operator's settings are wrong (bad URL, refused address)."""


class QuotaExhausted(Stop):
    """The hourly budget is spent: stop now and continue after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float = 3600.0,
                 status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


def category_of(exc: BaseException) -> Category | None:
    """The category of `exc`, or None for an error outside the tree (a bug, not a remote)."""
    return exc.category if isinstance(exc, SyncError) else None
