"""Typed failures of Atlassian calls: each says which operation failed and what the site answered.

Each class sits in the sync's one error tree (`workers.errors`), which decides what a run does.
"""

from __future__ import annotations

from typing import Any

from workers.errors import (
    AuthFailed,
    BadRequest,
    NotFound,
    PermissionMissing,
    QuotaExhausted,
    SyncError,
    Transient,
)


class AtlassianError(SyncError):
    """Base of every Atlassian client error.

    `operation` is our name for the call (e.g. "add_member"), `status` the HTTP status (None
    when no answer came back) and `remote_message` the site's own words, when it gave any;
    `message` is the whole sentence for the admin (operation, status, our words, the remote's).
    """

    def __init__(self, operation: str, message: str, *, status: int | None = None,
                 remote_message: str = "") -> None:
        self.operation = operation
        self.remote_message = remote_message
        detail = f" (HTTP {status})" if status is not None else ""
        remote = f": {remote_message}" if remote_message and remote_message not in message else ""
        super().__init__(f"{operation}{detail}: {message}{remote}", status=status)


class TransientError(AtlassianError, Transient):
    """Rate limited, 5xx or a broken connection: retried, and raised once the retry budget is spent."""


class QuotaExhaustedError(AtlassianError, QuotaExhausted):
    """The app's hourly points budget is spent (a quota 429, Retry-After up to an hour): the
    run is deferred to `retry_after` seconds from now instead of holding a worker asleep."""

    def __init__(self, operation: str, message: str, *, retry_after: float,
                 status: int | None = 429, remote_message: str = "") -> None:
        super().__init__(operation, message, status=status, remote_message=remote_message)
        self.retry_after = retry_after


class AuthError(AtlassianError, AuthFailed):
    """The credential is wrong, expired or revoked (401, or a refused refresh): reconnect it."""


class PermissionDenied(AtlassianError, PermissionMissing):
    """The credential is valid but may not do this (403)."""


class MissingCredentialError(PermissionDenied):
    """A write was asked for but the admin has not connected a credential that may write."""


class NotFoundError(AtlassianError, NotFound):
    """The group, user or site does not exist (404)."""


class ConflictError(AtlassianError, BadRequest):
    """The remote state clashes with the request (e.g. a group name taken) and it was not resolvable."""


class BadRequestError(AtlassianError, BadRequest):
    """The site rejected the request as invalid (400 and other 4xx): record it and go on."""


class LicenceExceededError(BadRequestError):
    """The product's licence has no free seat: permanent until the admin buys or frees seats."""


LICENCE_HINT = ("the product's licence has no free seat: free or buy seats in Atlassian "
                "Administration, then sync again")
CONFLUENCE_BARE_500 = ("Confluence answered a bare 500, which is how it refuses a member when "
                       "the licence has no free seat")


WRITE_CREDENTIAL_HINT = ("connect a site-admin account (OAuth) or an API token in the admin page")
ORG_KEY_HINT = "add an organization API key in the admin page"


def remote_message(body: Any) -> str:
    """The human message of a Jira, Confluence, OAuth or org API error body ("" when none)."""
    if not isinstance(body, dict):
        return str(body).strip()[:500] if body else ""
    parts: list[str] = []
    parts.extend(str(m) for m in body.get("errorMessages") or [])
    errors = body.get("errors")
    if isinstance(errors, dict):
        parts.extend(f"{k}: {v}" for k, v in errors.items())
    elif isinstance(errors, list):
        parts.extend(_org_error(e) if isinstance(e, dict) else str(e) for e in errors)
    context = body.get("context")
    if isinstance(context, dict) and isinstance(context.get("message"), str):
        parts.append(context["message"])  # the identity platform's {"key", "context"} shape
    for key in ("message", "error_description", "detail", "error"):
        value = body.get(key)
        if isinstance(value, str) and value and not parts:
            parts.append(value)
        elif isinstance(value, dict) and not parts:
            parts.append(str(value.get("message", value)))
    return "; ".join(parts)


def _org_error(error: dict[str, Any]) -> str:
    """One entry of the org admin API's `errors` list (title + detail)."""
    text = " ".join(str(error[k]) for k in ("title", "detail") if error.get(k))
    return str(error.get("message") or text or error)


def error_for_status(operation: str, status: int, body: Any) -> AtlassianError:
    """The typed error for a failed answer (status >= 400)."""
    message = remote_message(body)
    cls: type[AtlassianError]
    if isinstance(body, dict) and body.get("key") == "licenceExceeded":
        return LicenceExceededError(operation, LICENCE_HINT, status=status,
                                    remote_message=message)
    if status == 401:
        cls, text = AuthError, "the credential was refused"
    elif status == 403:
        cls, text = PermissionDenied, "the credential may not do this"
    elif status == 404:
        cls, text = NotFoundError, "not found"
    elif status == 409:
        cls, text = ConflictError, "conflict"
    elif status == 429 or status >= 500:
        cls, text = TransientError, "the site is busy or failing"
    else:
        cls, text = BadRequestError, "the site rejected the request"
    return cls(operation, text, status=status, remote_message=message)
