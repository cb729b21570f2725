"""The plan with what the site's admin checks found taken out: one pure step, no second plan.

The planner runs before the engine knows which accounts are site admins and which existing
groups carry admin rights (both are asked of Atlassian only for what the plan touches).
Planning again with those facts would leave out exactly these ops, so they are taken out
here: every removal from a site admin, every op on an admin-rights group, and the invitation
of anyone whose every group was such a group (never invited for a group they cannot join).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from workers.sync.plan import ADD_MEMBER, INVITE_USER, REMOVAL_KINDS, GroupSkip, Notice, Op, Plan
from workers.sync.privileged import ADMIN_RIGHTS, SKIP_REASONS


def protect(plan: Plan, *, site_admins: Collection[str] = (), admin_groups: Collection[str] = (),
            members: Mapping[str, Collection[str]] | None = None) -> Plan:
    """`plan` without the ops site admins and admin-rights groups forbid; `members` (the
    current members of the groups) keeps the managed-membership figure the guard reads right."""
    admins, rights = set(site_admins), set(admin_groups)
    touched = {op.group_id for op in plan.ops if op.group_id in rights}
    if not touched and not admins.intersection(op.account_id for op in plan.ops):
        return plan
    dropped_adds: set[str] = set()
    kept: list[Op] = []
    for op in plan.ops:
        if op.group_id in touched:
            if op.kind == ADD_MEMBER and op.account_id is None and op.idp_user_id:
                dropped_adds.add(op.idp_user_id)
            continue
        if op.kind in REMOVAL_KINDS and op.account_id in admins:
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
    spared = sorted({op.account_id for op in plan.ops if op.kind in REMOVAL_KINDS
                     and op.account_id in admins and op.group_id not in touched})
    notices += [Notice("protected_kept", f"Protected account {acc} keeps its memberships")
                for acc in spared]
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
