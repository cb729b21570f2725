"""Atlassian says an account was created (Connect `user_created`, Forge `avi:jira:created:user`):
the IdP user waiting for it is resynced on each of the site's connections, so it is linked and
its memberships applied now rather than at the next tick."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from redis import Redis
from sqlalchemy import select

from app import extensions
from app.models import Connection
from app.webhooks import record
from app.webhooks.named import Named, everything

log = logging.getLogger(__name__)


def named_for(user: dict[str, Any]) -> Named:
    """The IdP user an account is for, by e-mail (how accounts are linked); else everything."""
    email = user.get("emailAddress") or user.get("email")
    if isinstance(email, str) and "@" in email and len(email) <= 320:
        return Named(user_names={email.strip().lower()})
    return everything()  # Atlassian hid the e-mail (profile visibility): match in a full run


def account_created(installation_id: int, user: dict[str, Any],
                    redis: Callable[[], Redis] | None) -> int:
    """Record the new account on every enabled connection of the site; returns how many."""
    named = named_for(user)
    with extensions.db.session() as session:
        ids = list(session.scalars(select(Connection.id).where(
            Connection.installation_id == installation_id, Connection.enabled.is_(True),
            Connection.deleted_at.is_(None))))
    recorded = sum(1 for cid in ids if record.record(extensions.db, cid, named, redis))
    log.info("account created on installation %s: %d connection(s) to resync", installation_id,
             recorded)
    return recorded
