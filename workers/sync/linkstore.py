"""Loads and saves a connection's links (IdP id ↔ Atlassian id) in the database."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from app.db import raw_rows
from app.models import Link
from workers.sync.planner import Links

USER, GROUP = "user", "group"
_LINKS = Link.__table__
CHUNK = 500
"""Ids per IN (…) query: well below SQLite's and PostgreSQL's parameter limits."""


def load(session: Session, connection_id: int, users: Collection[str] | None = None,
         accounts: Collection[str] = (), into: Links | None = None) -> Links:
    """The connection's links: every one, or (with `users`) the group links, the suspended
    accounts, and the user links of the IdP ids `users` and of the accountIds `accounts`
    (what a run planning a small delta needs), added `into` an existing Links when given."""
    links = into if into is not None else Links()
    wanted, holders = set(users or ()), set(accounts)
    t = _LINKS.c
    base = select(t.kind, t.idp_id, t.atlassian_id, t.suspended).where(
        t.connection_id == connection_id)
    if users is None:
        queries = [base]
    else:
        ids, accs = sorted(wanted), sorted(holders)
        queries = [base.where(t.kind != USER), base.where(t.suspended.is_(True))]
        queries += [base.where(t.kind == USER, t.idp_id.in_(ids[i:i + CHUNK]))
                    for i in range(0, len(ids), CHUNK)]
        queries += [base.where(t.kind == USER, t.atlassian_id.in_(accs[i:i + CHUNK]))
                    for i in range(0, len(accs), CHUNK)]
    for query in queries:
        for kind, idp_id, atlassian_id, suspended in raw_rows(session, query):
            if kind == USER:
                if suspended:
                    links.suspended.add(atlassian_id)
                if users is None or idp_id in wanted or atlassian_id in holders:
                    links.users[idp_id] = atlassian_id
            else:
                links.groups[idp_id] = atlassian_id
    return links


@dataclass(frozen=True, slots=True)
class Save:
    """A link to create or repoint: `save`'s arguments, kept so a chunk's saves go together."""

    kind: str
    idp_id: str
    atlassian_id: str


def save(session: Session, connection_id: int, kind: str, idp_id: str, atlassian_id: str) -> None:
    """Create or repoint the link of `idp_id`; the Atlassian id leaves any other IdP id it had
    (an account belongs to one IdP user, e.g. after the IdP re-created a person)."""
    save_many(session, connection_id, kind, [(idp_id, atlassian_id)])


def save_many(session: Session, connection_id: int, kind: str,
              pairs: Sequence[tuple[str, str]]) -> None:
    """`save` for each (IdP id, Atlassian id) in order, with one read of the rows they touch.

    A first sync links every account: three statements per link, one of them a search by
    Atlassian id, made it quadratic in the directory's size. Now a chunk reads its rows by
    IdP id (the unique key) and by Atlassian id (its index), then writes one statement per
    kind of change, as rows rather than ORM objects."""
    if not pairs:
        return
    table = Link.__table__
    mine = (table.c.connection_id == connection_id) & (table.c.kind == kind)
    found: dict[int, tuple[str, str]] = {}
    for column, ids in ((table.c.idp_id, {i for i, _ in pairs}),
                        (table.c.atlassian_id, {a for _, a in pairs})):
        for part in _parts(sorted(ids)):
            found.update((row_id, (idp_id, atlassian_id)) for row_id, idp_id, atlassian_id in
                         session.execute(select(table.c.id, table.c.idp_id, table.c.atlassian_id)
                                         .where(mine, column.in_(part))))
    state = _after_saves(dict(found.values()), pairs)
    gone = [row_id for row_id, (idp_id, _) in found.items() if idp_id not in state]
    moved = [{"row_id": row_id, "new_id": state[idp_id]}
             for row_id, (idp_id, atlassian_id) in found.items()
             if idp_id in state and state[idp_id] != atlassian_id]
    known = {idp_id for idp_id, _ in found.values()}
    for part in _parts(gone):
        session.execute(delete(table).where(table.c.id.in_(part)))
    if moved:
        session.execute(update(table).where(table.c.id == bindparam("row_id"))
                        .values(atlassian_id=bindparam("new_id")), moved)
    new = [{"connection_id": connection_id, "kind": kind, "idp_id": idp_id,
            "atlassian_id": atlassian_id, "suspended": False}
           for idp_id, atlassian_id in state.items() if idp_id not in known]
    if new:
        session.execute(insert(table), new)


def _after_saves(links: dict[str, str], pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """IdP id → Atlassian id once each pair was saved in turn (pure; `links` is left alone)."""
    state = dict(links)
    holders: dict[str, set[str]] = {}
    for idp_id, atlassian_id in state.items():
        holders.setdefault(atlassian_id, set()).add(idp_id)
    for idp_id, atlassian_id in pairs:
        for other in holders.get(atlassian_id, set()) - {idp_id}:
            del state[other]
        previous = state.get(idp_id)
        if previous is not None and previous != atlassian_id:
            holders[previous].discard(idp_id)
        holders[atlassian_id] = {idp_id}
        state[idp_id] = atlassian_id
    return state


def _parts(values: list[Any], size: int = 400) -> Iterator[list[Any]]:
    """`values` in slices small enough for any database's bound-parameter limit."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def forget(session: Session, connection_id: int, kind: str, atlassian_id: str) -> None:
    """Drop the links to `atlassian_id` (the site answered that it no longer exists)."""
    session.execute(delete(Link).where(Link.connection_id == connection_id, Link.kind == kind,
                                       Link.atlassian_id == atlassian_id))


def set_suspended(session: Session, connection_id: int, account_id: str, suspended: bool) -> None:
    """Mark (or clear) the accounts whose access this connection suspended: one statement."""
    session.execute(update(Link).where(
        Link.connection_id == connection_id, Link.kind == USER, Link.atlassian_id == account_id)
        .values(suspended=suspended))
