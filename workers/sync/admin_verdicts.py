"""Remembered site-admin verdicts: whether an account holds Administer Jira, asked once per
account between drift reconciles instead of once per run that takes a membership away.

Jira's permission check (POST /rest/api/3/permissions/check) answers for one `accountId`
per call and has no bulk form, so a run that removes 500 people from groups would otherwise
spend 500 calls of the hourly budget before its first write. The reconcile forgets every
verdict (`forget`), so a permission granted by hand is found within the reconcile interval.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import SiteAccount

CHUNK = 500
"""Accounts per IN (…) query: well below SQLite's and PostgreSQL's parameter limits."""


def known(session: Session, connection_id: int, accounts: Collection[str]) -> dict[str, bool]:
    """account id → site admin, for those of `accounts` with a remembered verdict."""
    wanted = sorted(set(accounts))
    out: dict[str, bool] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(select(SiteAccount.account_id, SiteAccount.site_admin).where(
            SiteAccount.connection_id == connection_id,
            SiteAccount.account_id.in_(wanted[start:start + CHUNK])))
        out.update({acc: bool(admin) for acc, admin in rows})
    return out


def remember(session: Session, connection_id: int, verdicts: Mapping[str, bool],
             now: datetime) -> None:
    """Store fresh verdicts, replacing older ones of the same accounts."""
    accounts = sorted(verdicts)
    for start in range(0, len(accounts), CHUNK):
        session.execute(delete(SiteAccount).where(
            SiteAccount.connection_id == connection_id,
            SiteAccount.account_id.in_(accounts[start:start + CHUNK])))
    session.add_all(SiteAccount(connection_id=connection_id, account_id=acc,
                                site_admin=bool(verdicts[acc]), checked_at=now)
                    for acc in accounts)


def forget(session: Session, connection_id: int) -> None:
    """Drop every verdict of the connection: the next runs ask the site again."""
    session.execute(delete(SiteAccount).where(SiteAccount.connection_id == connection_id))
