"""The mirror: what this connection manages on the site, kept in our database.

Ordinary runs read it instead of the site's member lists. The executor updates it with each
chunk's Change rows, in the same transaction; the drift reconcile reads the site and puts it
right (`replace`). Product-access groups are never mirrored: Atlassian itself adds people to
them (an invitation does), so the engine reads them from the site when the policy needs them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import raw_rows
from app.models import ManagedGroup, ManagedMembership, MirrorCount
from workers.sync.counts import Drift
from workers.sync.mapping import groups_by_key

EXAMPLES = 10
"""Drift listed in words per run; the counts cover the rest."""
_GROUPS = ManagedGroup.__table__
_MEMBERS = ManagedMembership.__table__


@dataclass(slots=True)
class Mirror:
    """The managed groups (groupId → name), the members we know of, and what we judged."""

    groups: dict[str, str] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    inactive: set[str] = field(default_factory=set)
    admin_rights: dict[str, bool | None] = field(default_factory=dict)
    names: dict[str, str] | None = field(default=None, repr=False, compare=False)
    """`group_key(name)` → groupId of `groups`, made once (`by_name`): a Mirror's groups are
    read from the database once and never changed afterwards."""

    @property
    def admin_groups(self) -> set[str]:
        return {gid for gid, rights in self.admin_rights.items() if rights}


def by_name(mirror: Mirror) -> dict[str, str]:
    """The mirror's groups by `group_key` of their names, worked out once per load."""
    if mirror.names is None:
        mirror.names = groups_by_key(mirror.groups)
    return mirror.names


def load(session: Session, connection_id: int, members_of: Collection[str] | None = None,
         accounts: Collection[str] = (), groups: Mirror | None = None) -> Mirror:
    """The mirror's groups, with the members of `members_of` (every group's when None) and
    the memberships of `accounts` in any group; `groups`: the groups as an earlier `load` in
    the same transaction read them (ten thousand rows not read twice)."""
    mirror = Mirror()
    if groups is not None:
        mirror.groups, mirror.admin_rights = dict(groups.groups), dict(groups.admin_rights)
        mirror.names = groups.names  # the same groups: the same names
        mirror.members = {gid: set() for gid in mirror.groups}
    else:
        for gid, name, rights in raw_rows(session, select(
                _GROUPS.c.group_id, _GROUPS.c.name, _GROUPS.c.admin_rights)
                .where(_GROUPS.c.connection_id == connection_id)):
            mirror.groups[gid], mirror.admin_rights[gid] = name, rights
            mirror.members[gid] = set()
    base = select(_MEMBERS.c.group_id, _MEMBERS.c.account_id,
                  _MEMBERS.c.active).where(_MEMBERS.c.connection_id == connection_id)
    if members_of is None:
        queries = [base]
    else:
        wanted, who = sorted(set(members_of)), sorted(set(accounts))
        queries = [base.where(_MEMBERS.c.group_id.in_(wanted[i:i + 500]))
                   for i in range(0, len(wanted), 500)]
        queries += [base.where(_MEMBERS.c.account_id.in_(who[i:i + 500]))
                    for i in range(0, len(who), 500)]
    for query in queries:
        for gid, acc, active in raw_rows(session, query):
            mirror.members.setdefault(gid, set()).add(acc)
            if not active:
                mirror.inactive.add(acc)
    return mirror


def size(session: Session, connection_id: int) -> tuple[int, int]:
    """(groups, memberships) the mirror holds for the connection; the memberships as stored
    by the writes (`MirrorCount`), counted and stored again when unknown."""
    groups = session.scalar(select(func.count()).select_from(ManagedGroup).where(
        ManagedGroup.connection_id == connection_id))
    members = session.scalar(select(MirrorCount.memberships).where(
        MirrorCount.connection_id == connection_id))
    if members is None:
        members = _counted(session, connection_id)
    return int(groups or 0), int(members)


def _counted(session: Session, connection_id: int) -> int:
    """Count the connection's membership rows, and store the figure for the next runs."""
    members = int(session.scalar(select(func.count()).select_from(ManagedMembership).where(
        ManagedMembership.connection_id == connection_id)) or 0)
    _store_count(session, connection_id, members)
    return members


def _store_count(session: Session, connection_id: int, memberships: int) -> None:
    session.execute(delete(MirrorCount).where(MirrorCount.connection_id == connection_id))
    session.execute(insert(MirrorCount), [{"connection_id": connection_id,
                                           "memberships": memberships}])


def _moved(session: Session, connection_id: int, by: int | None) -> None:
    """The stored membership count moved by `by` rows; None (a driver that cannot tell how
    many rows a statement run over many changed): forgotten, so `size` counts again."""
    if by is None:
        session.execute(delete(MirrorCount).where(MirrorCount.connection_id == connection_id))
    elif by:
        session.execute(update(MirrorCount).where(MirrorCount.connection_id == connection_id)
                        .values(memberships=MirrorCount.memberships + by))


def _rows_changed(session: Session, result: Any, statements: int) -> int | None:
    """How many rows `result` (one statement run `statements` times) changed, when known."""
    if statements > 1 and not session.get_bind().dialect.supports_sane_multi_rowcount:
        return None
    count = result.rowcount
    return count if isinstance(count, int) and count >= 0 else None


def in_admin_rights_groups(session: Session, connection_id: int,
                           accounts: Collection[str]) -> set[str]:
    """Those of `accounts` the mirror has in a managed group judged to hold admin rights."""
    rights = sorted(session.scalars(select(ManagedGroup.group_id).where(
        ManagedGroup.connection_id == connection_id, ManagedGroup.admin_rights.is_(True))))
    wanted = sorted(set(accounts))
    if not rights or not wanted:  # usually none: such groups are never synced into
        return set()
    out: set[str] = set()
    for start in range(0, len(wanted), 500):
        out.update(session.scalars(select(ManagedMembership.account_id).where(
            ManagedMembership.connection_id == connection_id,
            ManagedMembership.account_id.in_(wanted[start:start + 500]),
            ManagedMembership.group_id.in_(rights))))
    return out


def is_built(session: Session, connection_id: int) -> bool:
    return session.scalar(select(ManagedGroup.group_id).where(
        ManagedGroup.connection_id == connection_id).limit(1)) is not None


def _insert_ignoring_duplicates(session: Session, model: type, rows: list[dict]) -> int | None:
    """One statement for the rows, skipping those already there; how many it inserted (None:
    not known). Rows go to the table, not the mapper: a first sync's chunks carry millions
    of memberships between them."""
    if not rows:
        return 0
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # psycopg reports no row count for a statement run over many rows: the inserted
        # rows come back instead (RETURNING), a key column each
        return len(session.execute(postgresql.insert(table).on_conflict_do_nothing()
                                   .returning(table.c.connection_id), rows).all())
    if dialect == "sqlite":
        result = session.execute(sqlite.insert(table).on_conflict_do_nothing(), rows)
        return _rows_changed(session, result, len(rows))
    inserted = 0  # no upsert: a row already there is a row we need not write
    for row in rows:
        keys = [table.c[k] == v for k, v in row.items() if k != "active" and k != "name"]
        if session.scalar(select(table).where(*keys).limit(1)) is None:
            session.execute(insert(table), [row])
            inserted += 1
    return inserted


def add_groups(session: Session, connection_id: int, groups: Iterable[tuple[str, str]],
               admin_rights: bool | None = None) -> None:
    """Groups this connection now manages (created, or read for the first time). A group this
    app created holds no permission (`admin_rights` False) until someone grants one; the
    reconcile judges every group again."""
    _insert_ignoring_duplicates(session, ManagedGroup, [
        {"connection_id": connection_id, "group_id": gid, "name": name,
         "admin_rights": admin_rights} for gid, name in groups])


def add_members(session: Session, connection_id: int, pairs: Iterable[tuple[str, str]],
                active: bool = True) -> None:
    inserted = _insert_ignoring_duplicates(session, ManagedMembership, [
        {"connection_id": connection_id, "group_id": gid, "account_id": acc, "active": active}
        for gid, acc in pairs])
    _moved(session, connection_id, inserted)


def remove_members(session: Session, connection_id: int, pairs: Iterable[tuple[str, str]]) -> None:
    """Forget these (groupId, accountId) memberships: one statement run for every pair, each
    found by the primary key (a row-value IN list scans the table in SQLite)."""
    rows = sorted(set(pairs))
    if rows:
        removed = _delete_pairs(session, connection_id, rows)
        _moved(session, connection_id, None if removed is None else -removed)


def _delete_pairs(session: Session, connection_id: int,
                  pairs: list[tuple[str, str]]) -> int | None:
    """Delete these memberships, each found by the primary key; how many were there (None:
    not known)."""
    result = session.connection().execute(_MEMBERS.delete().where(
        _MEMBERS.c.connection_id == bindparam("cid"), _MEMBERS.c.group_id == bindparam("gid"),
        _MEMBERS.c.account_id == bindparam("acc")),
        [{"cid": connection_id, "gid": gid, "acc": acc} for gid, acc in pairs])
    return _rows_changed(session, result, len(pairs))


def judge(session: Session, connection_id: int, verdicts: dict[str, bool]) -> None:
    """Store the admin-permission verdicts of managed groups (probed once, kept till the reconcile)."""
    for gid, rights in verdicts.items():
        session.execute(update(ManagedGroup).where(
            ManagedGroup.connection_id == connection_id, ManagedGroup.group_id == gid)
            .values(admin_rights=rights))


def adopt(session: Session, connection_id: int, groups: dict[str, str],
          members: dict[str, set[str]], inactive: Collection[str], now: datetime) -> None:
    """Start mirroring groups just read from the site (not managed before): their members as read."""
    add_groups(session, connection_id, groups.items())
    session.execute(update(ManagedGroup).where(
        ManagedGroup.connection_id == connection_id,
        ManagedGroup.group_id.in_(list(groups))).values(reconciled_at=now))
    for gid, accounts in members.items():
        if gid in groups:
            _members_as_read(session, connection_id, gid, accounts, inactive)


def _members_as_read(session: Session, connection_id: int, gid: str, accounts: set[str],
                     inactive: Collection[str]) -> None:
    result = session.execute(delete(ManagedMembership).where(
        ManagedMembership.connection_id == connection_id, ManagedMembership.group_id == gid))
    rows = [{"connection_id": connection_id, "group_id": gid, "account_id": acc,
             "active": acc not in inactive} for acc in accounts]
    if rows:
        session.execute(insert(_MEMBERS), rows)
    removed = _rows_changed(session, result, 1)
    _moved(session, connection_id, None if removed is None else len(rows) - removed)


def replace(session: Session, connection_id: int, groups: dict[str, str],
            members: dict[str, set[str]], inactive: Collection[str], now: datetime,
            admin_rights: dict[str, bool | None] | None = None,
            stored: Mirror | None = None) -> None:
    """The reconcile's result becomes the mirror: exactly these groups with these members.

    `stored`: the mirror as `load` read it in full, with nothing written to it since; then
    only the difference is written (a reconcile finds a handful of edits among a million
    memberships, and rewriting them all took most of its time). Without it, all is rewritten."""
    rights = admin_rights or {}
    if stored is None:
        _rewrite(session, connection_id, groups, members, inactive, now, rights)
    else:
        _write_difference(session, connection_id, groups, members, set(inactive), now, rights,
                          stored)
    _store_count(session, connection_id, sum(len(members.get(gid, ())) for gid in groups))


def _rewrite(session: Session, connection_id: int, groups: dict[str, str],
             members: dict[str, set[str]], inactive: Collection[str], now: datetime,
             rights: dict[str, bool | None]) -> None:
    session.execute(delete(_MEMBERS).where(_MEMBERS.c.connection_id == connection_id))
    session.execute(delete(_GROUPS).where(_GROUPS.c.connection_id == connection_id))
    if groups:
        session.execute(insert(_GROUPS), [
            {"connection_id": connection_id, "group_id": gid, "name": name,
             "admin_rights": rights.get(gid), "reconciled_at": now}
            for gid, name in groups.items()])
    rows = [{"connection_id": connection_id, "group_id": gid, "account_id": acc,
             "active": acc not in inactive}
            for gid, accounts in members.items() if gid in groups for acc in accounts]
    for start in range(0, len(rows), 5000):
        session.execute(insert(_MEMBERS), rows[start:start + 5000])


def _write_difference(session: Session, connection_id: int, groups: dict[str, str],
                      members: dict[str, set[str]], inactive: set[str], now: datetime,
                      rights: dict[str, bool | None], stored: Mirror) -> None:
    """`_rewrite`'s outcome, writing only what differs from `stored`."""
    cid = connection_id
    for column, gone in ((_GROUPS.c.group_id, sorted(stored.groups.keys() - groups.keys())),
                         (_MEMBERS.c.group_id, sorted(stored.members.keys() - groups.keys()))):
        for start in range(0, len(gone), 500):
            session.execute(delete(column.table).where(
                column.table.c.connection_id == cid, column.in_(gone[start:start + 500])))
    new = [gid for gid in groups if gid not in stored.groups]
    if new:
        session.execute(insert(_GROUPS), [{"connection_id": cid, "group_id": gid,
                                           "name": groups[gid]} for gid in new])
    renamed = [{"gid": gid, "new_name": name} for gid, name in groups.items()
               if gid in stored.groups and stored.groups[gid] != name]
    if renamed:
        session.execute(update(_GROUPS).where(
            _GROUPS.c.connection_id == cid, _GROUPS.c.group_id == bindparam("gid"))
            .values(name=bindparam("new_name")), renamed)
    if any(value is not None for value in rights.values()):
        session.execute(update(_GROUPS).where(
            _GROUPS.c.connection_id == cid, _GROUPS.c.group_id == bindparam("gid"))
            .values(admin_rights=bindparam("rights"), reconciled_at=now),
            [{"gid": gid, "rights": rights.get(gid)} for gid in groups])
    else:
        session.execute(update(_GROUPS).where(_GROUPS.c.connection_id == cid)
                        .values(admin_rights=None, reconciled_at=now))
    removed, added = [], []
    for gid in groups:
        have, site = stored.members.get(gid, _NONE), members.get(gid, _NONE)
        removed += [(gid, acc) for acc in have - site]
        added += [{"connection_id": cid, "group_id": gid, "account_id": acc,
                   "active": acc not in inactive} for acc in site - have]
    if removed:
        _delete_pairs(session, cid, removed)
    for start in range(0, len(added), 5000):
        session.execute(insert(_MEMBERS), added[start:start + 5000])
    # each account's rows say whether the site reported it deactivated: only accounts that
    # are, or had a row saying so, can be wrong
    flags = [{"acc": acc, "flag": acc not in inactive} for acc in sorted(stored.inactive | inactive)]
    if flags:
        session.connection().execute(_MEMBERS.update().where(
            _MEMBERS.c.connection_id == cid, _MEMBERS.c.account_id == bindparam("acc"))
            .values(active=bindparam("flag")), flags)


_NONE: frozenset[str] = frozenset()


def drift(mirror: Mirror, site_groups: dict[str, str], site_members: dict[str, set[str]]) -> Drift:
    """What the site has that the mirror did not expect, over the groups the mirror manages.

    Groups the mirror did not manage yet are not drift (they are simply new to us)."""
    found = Drift()
    for gid, name in sorted(mirror.groups.items()):
        if gid not in site_groups:
            found.groups_gone += 1
            _example(found, f"group '{name}' was deleted on the site")
            continue
        if gid not in site_members:
            continue  # not read this time (no longer mapped): nothing to compare
        known, now = mirror.members.get(gid, set()), site_members[gid]
        added, removed = now - known, known - now
        found.added += len(added)
        found.removed += len(removed)
        for acc in sorted(added)[:EXAMPLES]:
            _example(found, f"{acc} was added to '{name}' outside this app")
        for acc in sorted(removed)[:EXAMPLES]:
            _example(found, f"{acc} was removed from '{name}' outside this app")
    return found


def _example(found: Drift, text: str) -> None:
    if len(found.examples) < EXAMPLES:
        found.examples.append(text)
