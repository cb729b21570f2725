"""One planning pass per run: choose how to plan, read what that needs, plan, protect admins.

- `unchanged`: the IdP's change read found nothing and the last run converged on the same
  mapping; nothing to read on the site and nothing to plan.
- `incremental` (and `targeted`): plan only what the delta touches, against the mirror.
- `full`: plan the whole directory against the mirror (no member reads on the site).
- `reconcile`: read every managed group from the site, count the drift from the mirror,
  make the site's state the mirror, and plan the whole directory against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from app.models import Connection
from workers.atlassian.target import AtlassianTarget
from workers.sync import (
    admin_verdicts,
    incremental,
    kept_desired,
    linkstore,
    mapping,
    mirror,
    planner,
)
from workers.sync.counts import RunCounts
from workers.sync.current import (
    SiteRead,
    admin_groups_among,
    admin_named_members,
    read_current,
    site_admins_among,
)
from workers.sync.mapping import Desired
from workers.sync.model import Snapshot
from workers.sync.plan import ADD_MEMBER, Plan
from workers.sync.planner import Links
from workers.sync.policy import SyncPolicy
from workers.sync.protect import losing, protect
from workers.sync.run import RunContext
from workers.sync.snapshots import TARGETED, Fetched

UNCHANGED, INCREMENTAL, FULL, RECONCILE = "unchanged", "incremental", "full", "reconcile"
CARRIED = ("idp_users", "desired_users", "managed_groups", "managed_memberships",
           "desired_memberships", "groups_adopted", "groups_skipped")
"""Plan figures an unchanged run carries over from the last one (the guard reads desired_users)."""
PARTIAL_LINKS = frozenset({INCREMENTAL, TARGETED})
"""Modes that load only the links of the users they plan (the caller loads none for them)."""


@dataclass(slots=True)
class Made:
    """The plan of a run, its figures so far, and the groups found to carry admin rights."""

    plan: Plan
    counts: RunCounts
    admin_groups: set[str] = field(default_factory=set)
    links: Links | None = None
    """The links this plan was made with when the run loaded only some (`PARTIAL_LINKS`)."""
    desired: Desired | None = None
    """The desired state of the fetched snapshot (None when nothing was planned): kept with
    it as the next run's starting point."""


def same_snapshot(a: Snapshot, b: Snapshot) -> bool:
    # the member sets first: a change read that changed anything most often changed them, and
    # comparing stops at the first that differs (the users, a hundred thousand, would not)
    return a.members == b.members and a.groups == b.groups and a.users == b.users


def mode_for(ctx: RunContext, fetched: Fetched) -> str:
    if ctx.reconcile is not None:
        return RECONCILE
    if fetched.unchanged and ctx.builds_on_last:
        return UNCHANGED
    if fetched.base is None or not ctx.builds_on_last:
        return FULL
    if same_snapshot(fetched.base, fetched.snapshot):
        return UNCHANGED
    return TARGETED if fetched.mode == TARGETED else INCREMENTAL


def make(env: Any, ctx: RunContext, fetched: Fetched, policy: SyncPolicy,
         target: AtlassianTarget, mode: str | None = None) -> Made:
    """Plan run `ctx` from `fetched` (env: the engine's Environment, for db and concurrency);
    `mode`: `mode_for(ctx, fetched)` when the caller has it already."""
    mode = mode or mode_for(ctx, fetched)
    counts = RunCounts(fetch=fetched.mode, planning=mode, basis=ctx.basis,
                       scope=None if ctx.scope.empty else ctx.scope.to_json())
    if mode == UNCHANGED:
        counts.site_reads = "none"
        carried = {k: v for k, v in (ctx.last.counts if ctx.last else {}).items() if k in CARRIED}
        return Made(Plan(stats=carried), counts)
    if mode == RECONCILE:
        desired = mapping.desired(fetched.snapshot, ctx.policy.mapping)
        counts.site_reads = "reconcile"
        read, known = _reconcile(env, ctx, desired, policy, target, counts)
        plan = planner.plan(desired, read.current, ctx.links, policy)
    elif mode == FULL:
        desired = mapping.desired(fetched.snapshot, ctx.policy.mapping)
        counts.site_reads = "mirror"
        with env.db.session() as session:
            known = mirror.load(session, ctx.connection_id)
        read = read_current(target, desired, ctx.links, policy, env.concurrency, mirror=known)
        plan = planner.plan(desired, read.current, ctx.links, policy)
    else:  # the desired state is built from the last one, where the change reaches
        counts.site_reads = "mirror"
        plan, read, known, links, desired = _incremental(env, ctx, fetched, policy, target)
        ctx = replace(ctx, links=links)
    if not ctx.dry_run and mode != RECONCILE and read.read:
        with env.db.session() as session:  # groups new to this connection: mirrored from now on
            mirror.adopt(session, ctx.connection_id, read.read, read.current.members,
                         read.current.inactive, datetime.now(UTC))
    made = _protected(env, ctx, plan, read, known, target, counts)
    made.links = ctx.links if mode in PARTIAL_LINKS else None
    made.desired = desired
    return made


def _reconcile(env: Any, ctx: RunContext, desired: Desired, policy: SyncPolicy,
               target: AtlassianTarget, counts: RunCounts) -> tuple[SiteRead, mirror.Mirror]:
    with env.db.session() as session:
        stored = mirror.load(session, ctx.connection_id)
    read = read_current(target, desired, ctx.links, policy, env.concurrency, mirror=None)
    named = admin_named_members(target, env.concurrency)
    members = {gid: read.current.members.get(gid, set()) for gid in read.read}
    counts.drift = mirror.drift(stored, read.current.groups, members)
    if not ctx.dry_run:
        now = datetime.now(UTC)
        with env.db.session() as session:
            # admin verdicts are judged again after a reconcile (permissions drift too)
            mirror.replace(session, ctx.connection_id, read.read, members,
                           read.current.inactive, now, stored=stored)
            admin_verdicts.forget(session, ctx.connection_id)
            admin_verdicts.store_group_admins(session, ctx.connection_id, named, now)
            session.get(Connection, ctx.connection_id).reconciled_at = now
    return read, mirror.Mirror(groups=dict(read.read), members=members)


def _incremental(env: Any, ctx: RunContext, fetched: Fetched, policy: SyncPolicy,
                 target: AtlassianTarget) -> tuple[Plan, SiteRead, mirror.Mirror, Links, Desired]:
    """Plan a delta; returns the plan, the site read, the mirror read, the links loaded
    (those of the users planned, of whoever shares their e-mails, and of the accounts found)
    and the desired state."""
    # the base's desired state as the run that stored it made it, else mapped again
    old = (kept_desired.load(fetched.kept_desired, fetched.base, ctx.policy.mapping, ctx.basis)
           or mapping.desired(fetched.base, ctx.policy.mapping))
    # whose IdP record changed, found once by the fetch (a look at each of a hundred thousand)
    changed = (fetched.changed_users if fetched.changed_users is not None
               else mapping.changed_keys(fetched.base.users, fetched.snapshot.users))
    desired = mapping.desired_after(old, fetched.base, fetched.snapshot, ctx.policy.mapping,
                                    changed_users=changed)
    change = incremental.touch(old, desired, idp_changed=changed)
    keys, users, planned = change.keys, change.users, change.planned
    # members in full only of the groups planned whole; elsewhere those of the accounts planned
    whole = change.whole
    moved = set().union(*change.moved.values())
    with env.db.session() as session:
        links = linkstore.load(session, ctx.connection_id, users=planned | users)
        ctx = replace(ctx, links=links)
        groups_only = mirror.load(session, ctx.connection_id, members_of=())
        gids = _group_ids(whole | (keys - desired.groups.keys()), old, desired, ctx,
                          mirror.by_name(groups_only))
        accounts = {links.users[u] for u in users | moved if u in links.users}
        known = mirror.load(session, ctx.connection_id, members_of=gids, accounts=accounts,
                            groups=groups_only)
        managed = mirror.size(session, ctx.connection_id)
    emails = incremental.emails_needed(desired, links, planned)
    # the site is asked only about the groups the delta plans (the others match already)
    read = read_current(target, incremental.planned_groups(desired, change), links, policy,
                        env.concurrency, mirror=known, emails=emails)
    if emails:  # who else has those e-mails, or holds the accounts they found (collisions)
        sharing = incremental.sharing(desired, emails) - planned - users
        with env.db.session() as session:
            linkstore.load(session, ctx.connection_id, users=sharing,
                           accounts=set(read.current.accounts_by_email.values()), into=links)
    found = set(read.current.accounts_by_email.values()) - accounts
    if found:  # accounts an unlinked user's e-mail found may be members already
        with env.db.session() as session:
            theirs = mirror.load(session, ctx.connection_id, members_of=(), accounts=found,
                                 groups=known)
        for gid, accs in theirs.members.items():
            if gid in read.current.members:
                read.current.members[gid] |= accs
        read.current.inactive |= theirs.inactive
    plan = incremental.plan_incremental(old, desired, read.current, links, policy,
                                        managed=managed, change=change)
    return plan, read, known, links, desired


def _group_ids(keys: set[str], old: Desired, new: Desired, ctx: RunContext,
               by_name: dict[str, str]) -> set[str]:
    """The site groups the touched desired groups are (by link, else by name: `by_name`)."""
    out: set[str] = set()
    for k in keys:
        target = new.groups.get(k) or old.groups.get(k)
        if target is not None:
            out.update(ctx.links.groups[i] for i in target.idp_group_ids if i in ctx.links.groups)
        if k in by_name:
            out.add(by_name[k])
    return out


def _protected(env: Any, ctx: RunContext, plan: Plan, read: SiteRead, known: mirror.Mirror,
               target: AtlassianTarget, counts: RunCounts) -> Made:
    """Find the admins this plan touches, and take out what they forbid.

    Account-level removals (suspension, product access) ask the permission check for each
    account (remembered until the reconcile); membership removals from ordinary managed groups
    spare the members of admin-named groups (read at the reconcile) and of groups judged to
    hold admin rights, with no call. Until the admin-named groups were first read, membership
    removals ask per account too."""
    current = read.current
    whole, member = losing(plan, read.product_groups)
    with env.db.session() as session:
        remembered = admin_verdicts.known(session, ctx.connection_id, whole | member)
        by_group = admin_verdicts.group_admins(session, ctx.connection_id, member)
        named = (admin_verdicts.all_group_admins(session, ctx.connection_id)
                 if _adds_to_unjudged(plan, known) else None)
        rights = mirror.in_admin_rights_groups(session, ctx.connection_id, member)
    ask = whole | member if by_group is None else whole
    admins, asked = site_admins_among(target, ask, env.concurrency, known=remembered)
    verdicts = admin_groups_among(target, plan, current, env.concurrency,
                                  judged=known.admin_rights, admins={**remembered, **asked},
                                  explained=named)
    if (verdicts or asked) and not ctx.dry_run:
        with env.db.session() as session:
            mirror.judge(session, ctx.connection_id, verdicts)
            admin_verdicts.remember(session, ctx.connection_id, asked, datetime.now(UTC))
    admin_groups = current.admin_groups | {gid for gid, rights in verdicts.items() if rights}
    group_admins = (by_group or set()) | rights | {acc for acc in member if remembered.get(acc)}
    group_admins |= {acc for gid in admin_groups for acc in current.members.get(gid, ())}
    plan = protect(plan, site_admins=admins, admin_groups=admin_groups, members=current.members,
                   group_admins=group_admins, product_groups=read.product_groups)
    return Made(plan, counts, admin_groups)


def _adds_to_unjudged(plan: Plan, known: mirror.Mirror) -> bool:
    """Whether `admin_groups_among` will probe a group (it then needs the admin-named members)."""
    return any(op.kind == ADD_MEMBER and op.group_id and known.admin_rights.get(op.group_id) is None
               for op in plan.ops)
