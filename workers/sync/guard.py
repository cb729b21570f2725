"""The guard: whether a plan is applied, held for an admin's approval, or the run aborted."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from workers.sync.plan import ADD_MEMBER, CREATE_GROUP, Plan
from workers.sync.policy import GuardPolicy
from workers.sync.privileged import is_admin_name

PROCEED = "proceed"
"""Apply the plan now."""
HOLD = "hold"
"""Store the plan and apply it only when an admin approves it."""
ABORT = "abort"
"""Apply nothing at all. Used for an incomplete fetch: additions computed from a partial read
could be as wrong as the removals, and the next run with a complete read will do both."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The guard's decision with one sentence the admin page shows as is."""

    decision: str
    reason: str
    removals: int = 0
    users_affected: int = 0

    @property
    def proceed(self) -> bool:
        return self.decision == PROCEED


def check(plan: Plan, *, complete: bool, previous_user_count: int | None,
          policy: GuardPolicy, errors: list[str] | None = None,
          admin_groups: Collection[str] = ()) -> Verdict:
    """Judge `plan`, built from a fetch that was `complete` or not.

    `previous_user_count` is the `desired_users` figure of the last applied run (None on a
    first run); `admin_groups` the groupIds known to carry admin rights. Checks run in order:
    incomplete fetch, admin groups, sudden empty directory, removal limits.
    """
    removals, affected = plan.removals, plan.users_affected
    if not complete:
        detail = f": {errors[0]}" if errors else ""
        return Verdict(ABORT, f"The IdP could not be read completely{detail}. Nothing was "
                       "changed; the next run retries.", removals, affected)
    privileged = admin_groups_written(plan, admin_groups)
    if privileged:
        return Verdict(HOLD, f"The plan adds members to admin group(s) "
                       f"{', '.join(sorted(privileged))}, which this app never does on its own. "
                       "Approve only if that is intended.", removals, affected)
    users = plan.stats.get("desired_users", 0)
    if users == 0 and (previous_user_count or 0) >= policy.empty_hold_min_previous:
        return Verdict(HOLD, f"The IdP returned no users to sync where the last run synced "
                       f"{previous_user_count}. Approve only if that is intended.",
                       removals, affected)
    managed = plan.stats.get("managed_memberships", 0)
    # Integer-safe comparison: exactly at the percentage passes, one more removal is held.
    if removals * 100 > policy.max_removal_percent * managed and removals:
        return Verdict(HOLD, f"The plan removes {removals} of {managed} managed memberships, "
                       f"more than {policy.max_removal_percent:g} %. Approve to apply.",
                       removals, affected)
    if affected > policy.max_users_affected:
        return Verdict(HOLD, f"The plan takes memberships or access from {affected} users, more "
                       f"than the limit of {policy.max_users_affected}. Approve to apply.",
                       removals, affected)
    return Verdict(PROCEED, _summary_sentence(plan), removals, affected)


def admin_groups_written(plan: Plan, admin_groups: Collection[str] = ()) -> set[str]:
    """Names of the admin groups (by name or known rights) this plan creates or adds members to.

    The planner never plans these; this is the second lock on the same door, for a plan
    built by an older planner or read back from storage.
    """
    # Distinct groups first: a first sync's plan has a million ops over a few thousand groups.
    targets = {(op.group_id, op.group_name) for op in plan.ops
               if op.kind in (ADD_MEMBER, CREATE_GROUP)}
    return {name or gid or "" for gid, name in targets
            if (gid is not None and gid in admin_groups) or is_admin_name(name or "")}


def _summary_sentence(plan: Plan) -> str:
    if plan.is_empty:
        return "Already in step with the IdP; nothing to change."
    parts = [f"{count} {kind.replace('_', ' ')}" for kind, count in plan.summary().items() if count]
    return "Within limits: " + ", ".join(parts) + "."
