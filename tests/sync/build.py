"""Compact builders for snapshots and site states in the sync tables."""

from __future__ import annotations

from workers.sync import mapping, planner
from workers.sync.model import Group, Snapshot, User
from workers.sync.plan import Plan
from workers.sync.planner import Current, Links
from workers.sync.policy import MappingPolicy, SyncPolicy


def snapshot(users: dict[str, str] | None = None, groups: dict[str, tuple] | None = None,
             inactive: tuple[str, ...] = ()) -> Snapshot:
    """users: id → e-mail; groups: id → (name, [member ids], (parent ids…))."""
    snap = Snapshot()
    for uid, email in (users or {}).items():
        snap.add_user(User(uid, email, display_name=uid.upper(), active=uid not in inactive))
    for gid, spec in (groups or {}).items():
        name, members, parents = (tuple(spec) + ((), ()))[:3]
        snap.add_group(Group(gid, name, tuple(parents)))
        for uid in members:
            snap.add_member(gid, uid)
    return snap


def site(groups: dict[str, tuple[str, set[str]]] | None = None, emails: dict[str, str] | None = None,
         admins: set[str] | None = None) -> Current:
    """groups: groupId → (name, {accountIds}); emails: e-mail → accountId."""
    groups = groups or {}
    return Current(groups={gid: name for gid, (name, _) in groups.items()},
                   members={gid: set(m) for gid, (_, m) in groups.items()},
                   accounts_by_email=dict(emails or {}), site_admins=set(admins or ()))


def make_plan(snap: Snapshot, current: Current, links: Links | None = None,
              mapping_policy: MappingPolicy | None = None,
              sync_policy: SyncPolicy | None = None) -> Plan:
    wanted = mapping.desired(snap, mapping_policy or MappingPolicy())
    return planner.plan(wanted, current, links or Links(), sync_policy or SyncPolicy())


def triples(plan: Plan, *kinds: str) -> set[tuple]:
    """(kind, group id or ref, account id or IdP user id) of the ops of the given kinds."""
    return {(op.kind, op.group_id or op.group_ref, op.account_id or op.idp_user_id)
            for op in plan.ops if not kinds or op.kind in kinds}
