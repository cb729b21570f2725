"""How LDAP failures reach the admin: result codes and socket errors mapped to SourceErrors."""

from __future__ import annotations

import re
from typing import Any

from workers.sources.base import (
    SourceAuthError,
    SourceError,
    SourceNotFound,
    SourcePermissionError,
    SourceUnreachable,
)

# result codes worth another try: busy, unavailable, unwilling, other, time/admin limits
TRANSIENT_CODES = {3, 11, 51, 52, 53, 80}
# Active Directory says why a bind failed in the diagnostic text ("... data 533, v4563")
AD_BIND_REASONS = {
    "525": "the bind account does not exist",
    "52e": "the password is wrong",
    "530": "the bind account may not log on at this time",
    "531": "the bind account may not log on from this machine",
    "532": "the bind account's password has expired",
    "533": "the bind account is disabled",
    "701": "the bind account has expired",
    "773": "the bind account must change its password first",
    "775": "the bind account is locked out",
}
_AD_DATA = re.compile(r"\bdata ([0-9a-f]{3}),", re.IGNORECASE)


class SearchFailed(Exception):
    """A search that failed; `transient` says whether to retry, `partial` what was read."""

    def __init__(self, message: str, transient: bool, partial: list[Any] | None = None):
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.partial = partial or []


def raise_for_result(result: dict[str, Any], doing: str,
                     partial: list[Any] | None = None) -> None:
    """Config-like failures raise their SourceError; the rest a SearchFailed for the retry loop."""
    code = result.get("result", 0)
    if code == 0:
        return
    error = result_error(result, doing)
    if isinstance(error, SourceAuthError | SourcePermissionError | SourceNotFound):
        raise error
    raise SearchFailed(error.message, code in TRANSIENT_CODES, partial)


def result_error(result: dict[str, Any], doing: str) -> SourceError:
    """A SourceError the admin can act on, from an LDAP result code."""
    code, text = result.get("result"), result.get("description", "")
    detail = f" ({result.get('message')})" if result.get("message") else ""
    if code == 49:
        match = _AD_DATA.search(str(result.get("message") or ""))
        reason = AD_BIND_REASONS.get(match.group(1).lower()) if match else None
        return SourceAuthError(f"The server refused the bind DN or password while {doing}"
                               + (f": {reason}." if reason else "."))
    if code == 8:
        return SourceAuthError(f"The server requires a secure connection while {doing}: use "
                               "ldaps:// or StartTLS (the DC enforces LDAP signing).")
    if code in (48, 50):
        return SourcePermissionError(f"The bind account may not do this: {doing}{detail}.")
    if code == 32:
        return SourceNotFound(f"No such entry while {doing}: check the base DN{detail}.")
    if code == 11:
        return SourceError(f"The server refused an administrative limit while {doing}; "
                           "lower the page size (AD's MaxPageSize is usually 1000).")
    if code == 4:
        return SourceError(f"The server stopped after its size limit while {doing}; "
                           "raise the bind account's limit (or use paged search).")
    return SourceError(f"LDAP error {code} {text} while {doing}{detail}.")


def socket_error(exc: Exception, where: str) -> SourceUnreachable:
    """One sentence for a failed connection: DNS, refused, TLS or timeout."""
    text = str(exc)
    if "invalid server address" in text:
        return SourceUnreachable(f"The LDAP server name in {where} does not resolve (DNS).")
    if "refused" in text.lower():
        return SourceUnreachable(f"Connection refused by {where}: is the LDAP server running "
                                 "and the port right?")
    if "ssl" in text.lower() or "certificate" in text.lower():
        return SourceUnreachable(f"TLS handshake with {where} failed: {text}")
    if "timed out" in text.lower():
        return SourceUnreachable(f"Connection to {where} timed out.")
    return SourceUnreachable(f"Cannot reach the LDAP server at {where}: {text}")
