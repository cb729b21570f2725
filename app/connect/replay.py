"""Single-use lifecycle tokens: remembered in the database (every process and machine sees them)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.models import UsedLifecycleToken


class TokenReplayed(Exception):
    """This token was already accepted with another body."""


def _digest(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def consume(session: Session, token: str, body: bytes, expires_at: int, leeway: int) -> bool:
    """Record `token` as used; True when it is new, False for an identical retry (same body).

    Raises TokenReplayed for the same token with another body. The row is flushed at once so
    that a concurrent request with the same token fails on the primary key before it changes
    anything; the caller's transaction commits it with the lifecycle change it guards.
    """
    token_hash, body_hash = _digest(token), _digest(body)
    seen = session.get(UsedLifecycleToken, token_hash)
    if seen is not None:
        if seen.body_hash == body_hash:
            return False
        raise TokenReplayed("this lifecycle token was already used")
    now = datetime.now(UTC)
    session.execute(delete(UsedLifecycleToken).where(UsedLifecycleToken.expires_at < now)
                    .execution_options(synchronize_session=False))
    # Kept until the token could no longer pass the exp check anyway.
    until = datetime.fromtimestamp(expires_at, UTC) + timedelta(seconds=leeway)
    session.add(UsedLifecycleToken(token_hash=token_hash, body_hash=body_hash, expires_at=until))
    session.flush()
    return True

