"""The plan with what the site's admin checks found taken out: one pure step, no second plan.

The planner runs before the engine knows which accounts are admins and which existing groups
carry admin rights (both are found only for what the plan touches). Planning again with those
facts would leave out exactly these ops, so they are taken out here: every removal from an
admin, every op on an admin-rights group, and the invitation of anyone whose every group was
such a group (never invited for a group they cannot join).

Who counts as an admin depends on what the op can do. An op that acts on the account as a
whole (a suspension, a removal from a product-access group: `acts_on_account`) can lock an
admin out, so it is spared for `site_admins`, the accounts the permission check (POST /rest/
api/3/permissions/check) found holding Administer Jira. A membership removal from an ordinary
managed group is spared for those and for `group_admins`: members of an admin-named group or
of a group judged to hold admin rights, which the run knows without a call per account.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from workers.sync.plan import (
    ADD_MEMBER,
    INVITE_USER,
    REMOVAL_KINDS,
    REMOVE_MEMBER,
    SUSPEND_ACCESS,
    GroupSkip,
    Notice,
    Op,
    Plan,
)
from workers.sync.privileged import ADMIN_RIGHTS, SKIP_REASONS, is_product_access_name


def acts_on_account(op: Op, product_groups: Collection[str] = ()) -> bool:
    """Whether removal `op` acts on the account as a whole: a suspension, or a removal from a
    product-access group (`product_groups`, or one by its default name), which takes a
    product away."""
    if op.kind == SUSPEND_ACCESS:
        return True
    return op.kind == REMOVE_MEMBER and (op.group_id in product_groups
                                         or is_product_access_name(op.group_name or ""))


def losing(plan: Plan, product_groups: Collection[str] = ()) -> tuple[set[str], set[str]]:
    """(accounts an account-level removal acts on, accounts losing an ordinary membership)."""
    whole: set[str] = set()
    member: set[str] = set()
    for op in plan.ops:
        if op.kind in REMOVAL_KINDS and op.account_id:
            (whole if acts_on_account(op, product_groups) else member).add(op.account_id)
    return whole, member


def protect(plan: Plan, *, site_admins: Collection[str] = (), admin_groups: Collection[str] = (),
            members: Mapping[str, Collection[str]] | None = None,
            group_admins: Collection[str] = (), product_groups: Collection[str] = ()) -> Plan:
    """`plan` without the ops admins and admin-rights groups forbid (see the module's
    docstring for who is an admin for which op); `members` (the current members of the
    groups) keeps the managed-membership figure the guard reads right; `product_groups`: the
    product-access groups the plan may remove people from."""
    admins, rights = set(site_admins), set(admin_groups)
    by_group = admins | set(group_admins)

    def spared(op: Op) -> bool:
        if op.kind not in REMOVAL_KINDS:
            return False
        return op.account_id in (admins if acts_on_account(op, product_groups) else by_group)

    touched = {op.group_id for op in plan.ops if op.group_id in rights}
    if not touched and not by_group.intersection(op.account_id for op in plan.ops):
        return plan
    dropped_adds: set[str] = set()
    kept: list[Op] = []
    for op in plan.ops:
        if op.group_id in touched:
            if op.kind == ADD_MEMBER and op.account_id is None and op.idp_user_id:
                dropped_adds.add(op.idp_user_id)
            continue
        if spared(op):
            continue
        kept.append(op)
    still_joining = {op.idp_user_id for op in kept if op.kind == ADD_MEMBER and op.account_id is None}
    stranded = dropped_adds - still_joining
    notices = list(plan.notices)
    ops = []
    for op in kept:
        if op.kind == INVITE_USER and op.idp_user_id in stranded:
            notices.append(Notice("user_skipped", f"No Atlassian account for {op.email}; not "
                                  "invited: every group it maps to was skipped"))
            continue
        ops.append(op)
    names = _names(plan, touched)
    for gid in sorted(touched):
        notices.append(Notice("group_skipped",
                              f"Group '{names[gid]}' skipped: {SKIP_REASONS[ADMIN_RIGHTS]}"))
    kept_accounts = sorted({op.account_id for op in plan.ops
                            if op.group_id not in touched and spared(op)})
    notices += [Notice("protected_kept", f"Protected account {acc} keeps its memberships")
                for acc in kept_accounts]
    return replace(plan, ops=ops, notices=notices, stats=_stats(plan.stats, touched, members),
                   adopted=[n for n in plan.adopted if n not in {names[g] for g in touched}],
                   skipped_groups=plan.skipped_groups + [GroupSkip(names[g], ADMIN_RIGHTS)
                                                         for g in sorted(touched)])


def _names(plan: Plan, gids: set[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for op in plan.ops:
        if op.group_id in gids and op.group_id not in names:
            names[op.group_id] = op.group_name or op.group_id
    return names


def _stats(stats: dict[str, int], dropped: set[str],
           members: Mapping[str, Collection[str]] | None) -> dict[str, int]:
    out = dict(stats)
    if not dropped:
        return out
    out["managed_groups"] = max(0, out.get("managed_groups", 0) - len(dropped))
    out["groups_skipped"] = out.get("groups_skipped", 0) + len(dropped)
    if members is not None:
        gone = sum(len(members.get(g, ())) for g in dropped)
        out["managed_memberships"] = max(0, out.get("managed_memberships", 0) - gone)
    return out
