"""Reads what the Atlassian site has now, for the planner: only what the plan can touch."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from workers.atlassian.target import AtlassianTarget
from workers.sync.mapping import Desired
from workers.sync.plan import REMOVAL_KINDS, Plan
from workers.sync.planner import Current, Links, emails_to_look_up, groups_to_read
from workers.sync.policy import SyncPolicy

T = TypeVar("T")
R = TypeVar("R")


def concurrent_map(fn: Callable[[T], R], items: Iterable[T], concurrency: int) -> list[R]:
    """`fn` over `items` on a bounded pool (reads are independent; the client paces 429s)."""
    items = list(items)
    if len(items) <= 1 or concurrency <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items)),
                            thread_name_prefix="atlassian-read") as pool:
        return list(pool.map(fn, items))


def read_current(target: AtlassianTarget, desired: Desired, links: Links, policy: SyncPolicy,
                 concurrency: int = 4) -> Current:
    """Site groups, members of the managed groups, and accounts for unlinked e-mails."""
    site_groups = {g.group_id: g.name for g in target.list_groups()}
    wanted = sorted(groups_to_read(desired, site_groups, links, policy))
    member_lists = concurrent_map(target.group_members, wanted, concurrency)
    members = {gid: {u.account_id for u in users} for gid, users in zip(wanted, member_lists, strict=True)}
    emails = emails_to_look_up(desired, links)
    found = concurrent_map(target.find_user_by_email, emails, concurrency)
    accounts = {email: user.account_id for email, user in zip(emails, found, strict=True) if user}
    return Current(groups=site_groups, members=members, accounts_by_email=accounts)


def site_admins_among(target: AtlassianTarget, plan: Plan, concurrency: int = 4) -> set[str]:
    """Which accounts that this plan would take something from are site admins (protected)."""
    losing = sorted({op.account_id for op in plan.ops if op.kind in REMOVAL_KINDS and op.account_id})
    verdicts = concurrent_map(target.is_site_admin, losing, concurrency)
    return {acc for acc, admin in zip(losing, verdicts, strict=True) if admin}
