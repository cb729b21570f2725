"""Loads and saves a connection's links (IdP id ↔ Atlassian id) in the database."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import Link
from workers.sync.planner import Links

USER, GROUP = "user", "group"
CHUNK = 500
"""Ids per IN (…) query: well below SQLite's and PostgreSQL's parameter limits."""


def load(session: Session, connection_id: int, users: Collection[str] | None = None,
         accounts: Collection[str] = (), into: Links | None = None) -> Links:
    """The connection's links: every one, or (with `users`) the group links, the suspended
    accounts, and the user links of the IdP ids `users` and of the accountIds `accounts`
    (what a run planning a small delta needs), added `into` an existing Links when given."""
    links = into if into is not None else Links()
    wanted, holders = set(users or ()), set(accounts)
    base = select(Link.kind, Link.idp_id, Link.atlassian_id, Link.suspended).where(
        Link.connection_id == connection_id)
    if users is None:
        queries = [base]
    else:
        ids, accs = sorted(wanted), sorted(holders)
        queries = [base.where(Link.kind != USER), base.where(Link.suspended.is_(True))]
        queries += [base.where(Link.kind == USER, Link.idp_id.in_(ids[i:i + CHUNK]))
                    for i in range(0, len(ids), CHUNK)]
        queries += [base.where(Link.kind == USER, Link.atlassian_id.in_(accs[i:i + CHUNK]))
                    for i in range(0, len(accs), CHUNK)]
    for query in queries:
        for kind, idp_id, atlassian_id, suspended in session.execute(query):
            if kind == USER:
                if suspended:
                    links.suspended.add(atlassian_id)
                if users is None or idp_id in wanted or atlassian_id in holders:
                    links.users[idp_id] = atlassian_id
            else:
                links.groups[idp_id] = atlassian_id
    return links


def save(session: Session, connection_id: int, kind: str, idp_id: str, atlassian_id: str) -> None:
    """Create or repoint the link of `idp_id`; the Atlassian id leaves any other IdP id it had
    (an account belongs to one IdP user, e.g. after the IdP re-created a person)."""
    session.execute(delete(Link).where(Link.connection_id == connection_id, Link.kind == kind,
                                       Link.atlassian_id == atlassian_id, Link.idp_id != idp_id))
    row = session.scalars(select(Link).where(
        Link.connection_id == connection_id, Link.kind == kind, Link.idp_id == idp_id)).first()
    if row is None:
        session.add(Link(connection_id=connection_id, kind=kind, idp_id=idp_id,
                         atlassian_id=atlassian_id, suspended=False))
    else:
        row.atlassian_id = atlassian_id


def forget(session: Session, connection_id: int, kind: str, atlassian_id: str) -> None:
    """Drop the links to `atlassian_id` (the site answered that it no longer exists)."""
    session.execute(delete(Link).where(Link.connection_id == connection_id, Link.kind == kind,
                                       Link.atlassian_id == atlassian_id))


def set_suspended(session: Session, connection_id: int, account_id: str, suspended: bool) -> None:
    for row in session.scalars(select(Link).where(
            Link.connection_id == connection_id, Link.kind == USER, Link.atlassian_id == account_id)):
        row.suspended = suspended
