"""The app system token (`x-forge-oauth-system`) Forge hands us with an invocation: kept
encrypted on the installation until its `exp`, used for reads, never logged."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.models import Installation

HEADER = "x-forge-oauth-system"
MARGIN = timedelta(minutes=2)
"""A token this close to its exp is not handed to a sync (the sync would outlive it)."""
KEEP_WHILE = timedelta(hours=1)
"""A held token with more life than this is kept: a fresh one every five minutes would make
each scheduled trigger a write."""


def expiry(token: str) -> datetime | None:
    """The token's `exp` (it is a JWT), read without verifying: only Atlassian can verify it,
    and we use the time only to stop sending a token Atlassian would refuse."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        exp = json.loads(base64.urlsafe_b64decode(padded)).get("exp")
    except (binascii.Error, ValueError, UnicodeDecodeError, AttributeError):
        return None
    if not isinstance(exp, int | float):
        return None
    return datetime.fromtimestamp(exp, UTC)


def remember(installation: Installation, token: str | None, encrypt: Callable[[str], str],
             now: datetime) -> bool:
    """Keep `token` if it outlives the one we hold; True when the row changed."""
    if not token:
        return False
    expires = expiry(token)
    if expires is None or expires <= now:
        return False
    held = _aware(installation.system_token_expires_at)
    if installation.system_token_encrypted and held is not None and (
            held >= expires or held - now > KEEP_WHILE):
        return False
    installation.system_token_encrypted = encrypt(token)
    installation.system_token_expires_at = expires
    return True


def current(installation: Installation, decrypt: Callable[[str], str],
            now: datetime | None = None) -> str | None:
    """The held token while it is still good for a while, else None."""
    now = now or datetime.now(UTC)
    held = _aware(installation.system_token_expires_at)
    if not installation.system_token_encrypted or held is None or held - MARGIN <= now:
        return None
    return decrypt(installation.system_token_encrypted)


def forget(installation: Installation) -> None:
    installation.system_token_encrypted = None
    installation.system_token_expires_at = None


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
