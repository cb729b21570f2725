"""Remembered admin facts between drift reconciles: per-account site-admin verdicts, and the
members of the site's admin-named groups.

Jira's permission check (POST /rest/api/3/permissions/check) answers for one `accountId`
per call and has no bulk form. It is asked only for the ops that act on an account as a whole
(suspension, removal from a product-access group), once per account between reconciles.
Membership removals from ordinary managed groups are protected by group instead: an account
in an admin-named group (`group_admins`, read at the reconcile by `store_group_admins`) keeps
them, with no call. The reconcile forgets every verdict (`forget`) and reads the admin-named
groups again, so a permission or an admin membership granted by hand is found within the
reconcile interval.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from app.models import AdminMember, Connection, SiteAccount

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


def store_group_admins(session: Session, connection_id: int, members: Mapping[str, Collection[str]],
                       now: datetime) -> None:
    """The members of the site's admin-named groups (groupId → accountIds), as just read."""
    session.execute(delete(AdminMember).where(AdminMember.connection_id == connection_id))
    rows = [{"connection_id": connection_id, "account_id": acc, "group_id": gid}
            for gid, accounts in members.items() for acc in set(accounts)]
    for start in range(0, len(rows), CHUNK * 10):
        session.execute(insert(AdminMember), rows[start:start + CHUNK * 10])
    session.get(Connection, connection_id).admin_members_read_at = now


def group_admins(session: Session, connection_id: int,
                 accounts: Collection[str]) -> set[str] | None:
    """Those of `accounts` in an admin-named group as of the last read; None when the
    connection's admin-named groups were never read (the caller then asks per account)."""
    if session.get(Connection, connection_id).admin_members_read_at is None:
        return None
    wanted = sorted(set(accounts))
    out: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        out.update(session.scalars(select(AdminMember.account_id).where(
            AdminMember.connection_id == connection_id,
            AdminMember.account_id.in_(wanted[start:start + CHUNK]))))
    return out


def all_group_admins(session: Session, connection_id: int) -> set[str] | None:
    """Every account in an admin-named group as of the last read (None: never read)."""
    if session.get(Connection, connection_id).admin_members_read_at is None:
        return None
    return set(session.scalars(select(AdminMember.account_id).where(
        AdminMember.connection_id == connection_id)))
