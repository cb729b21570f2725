"""Reads what the Atlassian site has now, for the planner: only what the plan can touch, and
only what the mirror does not already know."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from app.config import DEFAULT_CONCURRENCY
from workers.atlassian.target import AtlassianTarget
from workers.sync.mapping import Desired, group_key, groups_by_key
from workers.sync.mirror import Mirror, by_name
from workers.sync.plan import ADD_MEMBER, REMOVAL_KINDS, Plan
from workers.sync.planner import Current, Links, emails_to_look_up, groups_to_read
from workers.sync.policy import SyncPolicy
from workers.sync.privileged import is_admin_name
from workers.threads import run_all

ADMIN_PROBE = 5
"""Members checked per group for a global admin permission (see `admin_groups_among`)."""

T = TypeVar("T")
R = TypeVar("R")


def concurrent_map(fn: Callable[[T], R], items: Iterable[T], concurrency: int) -> list[R]:
    """`fn` over `items` on a bounded pool (reads are independent; the client paces 429s)."""
    return run_all(fn, items, concurrency, name="atlassian-read")


@dataclass(slots=True)
class SiteRead:
    """What one run learned of the site: the planner's Current, and the managed groups whose
    members were read from the site this time (to start mirroring them)."""

    current: Current
    read: dict[str, str] = field(default_factory=dict)
    """groupId → name of managed groups read from the site (all of them on a reconcile)."""
    product_groups: set[str] = field(default_factory=set)
    """Product-access groups read for deprovisioning: read each time, never mirrored."""


def read_current(target: AtlassianTarget, desired: Desired, links: Links, policy: SyncPolicy,
                 concurrency: int = DEFAULT_CONCURRENCY, mirror: Mirror | None = None,
                 emails: list[str] | None = None) -> SiteRead:
    """Site groups, members of the managed groups, and accounts for unlinked e-mails.

    With a `mirror` (an ordinary run) only what the mirror does not know is asked of the
    site: groups new to this connection and their members, product-access groups, e-mails.
    Without one (a reconcile, or no mirror yet) every managed group is read. `emails` are the
    addresses to look up (default: every synced user without a link)."""
    ids, names = groups_to_look_up(desired, links, policy)
    known: dict[str, str] = dict(mirror.groups) if mirror is not None else {}
    product_names = {group_key(n) for n in policy.product_access_groups}
    known_keys = by_name(mirror) if mirror is not None else {}
    if mirror is not None:
        ids = ids - known.keys()
        names = {n for n in names if group_key(n) not in known_keys or group_key(n) in product_names}
    looked = {g.group_id: g.name for g in target.groups_named(ids, names)} if ids or names else {}
    site_groups = {**known, **looked}
    # the mirror's names were cased once; only the groups looked up are cased here
    site_names = {**known_keys, **groups_by_key(looked)}
    synced = target.synced_groups(looked, ()) if looked else set()
    wanted = groups_to_read(desired, site_groups, links, policy)
    products = {gid for gid in wanted if group_key(site_groups[gid]) in product_names}
    to_read = sorted(wanted - known.keys() | products)
    member_lists = concurrent_map(target.group_members, to_read, concurrency)
    members = {gid: set(mirror.members.get(gid, ())) for gid in wanted
               if gid in known} if mirror is not None else {}
    members.update({gid: {u.account_id for u in users}
                    for gid, users in zip(to_read, member_lists, strict=True)})
    inactive = {u.account_id for users in member_lists for u in users if not u.active}
    if mirror is not None:
        inactive |= mirror.inactive
    emails = emails_to_look_up(desired, links) if emails is None else emails
    found = concurrent_map(target.find_user_by_email, emails, concurrency)
    accounts = {email: user.account_id for email, user in zip(emails, found, strict=True) if user}
    current = Current(groups=site_groups, members=members, accounts_by_email=accounts,
                      inactive=inactive, synced_groups=synced, names=site_names,
                      admin_groups=mirror.admin_groups if mirror is not None else set())
    return SiteRead(current, {gid: site_groups[gid] for gid in to_read if gid not in products},
                    products)


def groups_to_look_up(desired: Desired, links: Links, policy: SyncPolicy
                      ) -> tuple[set[str], set[str]]:
    """The ids and names of every site group the plan can touch: the groups this connection
    linked, the groups the mapping names, and the product-access groups deprovisioning may
    remove people from. Anything else on the site is never read."""
    ids = set(links.groups.values())
    names = {target.name for target in desired.groups.values()}
    names |= set(policy.product_access_groups)
    return ids, names


def losing_accounts(plan: Plan) -> set[str]:
    """The accounts this plan would take a membership (or more) from."""
    return {op.account_id for op in plan.ops if op.kind in REMOVAL_KINDS and op.account_id}


def site_admins_among(target: AtlassianTarget, accounts: Collection[str],
                      concurrency: int = DEFAULT_CONCURRENCY,
                      known: Mapping[str, bool] | None = None) -> tuple[set[str], dict[str, bool]]:
    """(site admins among `accounts`, the verdicts asked of the site this time); accounts
    with a verdict in `known` are not asked again."""
    known = known or {}
    ask = sorted(set(accounts) - known.keys())
    asked = dict(zip(ask, concurrent_map(target.is_site_admin, ask, concurrency), strict=True))
    return {acc for acc in accounts if known.get(acc, asked.get(acc))}, asked


def admin_named_members(target: AtlassianTarget,
                        concurrency: int = DEFAULT_CONCURRENCY) -> dict[str, set[str]]:
    """groupId → accountIds of every admin-named group on the site (one listing of the
    site's groups, then each such group's members)."""
    named = [g.group_id for g in target.list_groups() if is_admin_name(g.name)]
    lists = concurrent_map(target.group_members, named, concurrency)
    return {gid: {u.account_id for u in users} for gid, users in zip(named, lists, strict=True)}


def admin_groups_among(target: AtlassianTarget, plan: Plan, current: Current,
                       concurrency: int = DEFAULT_CONCURRENCY,
                       judged: Mapping[str, bool | None] | None = None,
                       admins: Mapping[str, bool] | None = None,
                       explained: Collection[str] | None = None) -> dict[str, bool]:
    """Existing groups this plan adds members to whose members hold Administer Jira.

    Jira's REST API names the global permissions of an account (POST /rest/api/3/permissions/
    check), not of a group, so a group is judged by its members: a group that grants the
    permission grants it to every active member, so one active member without it clears it.
    Members who are in an admin-named group (site-admins, jira-admins-…) are admins anyway and
    prove nothing; of the others, a group whose first ADMIN_PROBE all have the permission is
    taken for an admin group (the safe side: at worst a group of admins is skipped and
    reported). A group with no such member cannot be judged this way; admin names and the
    adoption choice guard those.

    Returns the verdict of each group probed; groups with a verdict in `judged` (the
    mirror's, from an earlier probe) are not probed again, nor accounts with one in `admins`.
    `explained`: the members of the admin-named groups when already known (the reconcile
    reads them); None reads them from the site now.
    """
    judged = judged or {}
    adding = sorted({op.group_id for op in plan.ops if op.kind == ADD_MEMBER and op.group_id
                     and judged.get(op.group_id) is None})
    if not adding:
        return {}
    if explained is None:  # read only for a plan that adds members to groups that exist
        explained = {acc for accounts in admin_named_members(target, concurrency).values()
                     for acc in accounts}
    explained = set(explained)
    verdicts: dict[str, bool] = dict(admins or {})

    def admin(account_id: str) -> bool:
        if account_id not in verdicts:
            verdicts[account_id] = target.is_site_admin(account_id)
        return verdicts[account_id]

    def holds_admin(gid: str) -> bool:
        # Only active members: a deactivated account holds no permission, whatever its groups.
        witnesses = current.members.get(gid, set()) - current.inactive - explained
        sample = sorted(witnesses)[:ADMIN_PROBE]
        return bool(sample) and all(admin(acc) for acc in sample)  # stops at the first non-admin

    found = concurrent_map(holds_admin, adding, concurrency)
    return dict(zip(adding, found, strict=True))
