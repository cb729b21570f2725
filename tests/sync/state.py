"""Applies a plan to an in-memory site and link store: what a correct executor leaves behind."""

from __future__ import annotations

import copy

from workers.sync.plan import (
    ADD_MEMBER,
    CREATE_GROUP,
    INVITE_USER,
    LINK_GROUP,
    LINK_USER,
    REMOVE_MEMBER,
    RESTORE_ACCESS,
    SUSPEND_ACCESS,
    Plan,
)
from workers.sync.planner import Current, Links


def apply_to_state(current: Current, links: Links, plan: Plan) -> tuple[Current, Links]:
    """A new (current, links) after every op of `plan`, in the plan's order; inputs untouched."""
    site, memory = copy.deepcopy(current), copy.deepcopy(links)
    created: dict[str, str] = {}
    for op in plan.ops:
        gid = op.group_id or created.get(op.group_ref or "")
        acc = op.account_id or memory.users.get(op.idp_user_id or "")
        if op.kind == CREATE_GROUP:
            gid = created[op.group_ref] = f"new-group-{op.group_ref}"
            site.groups[gid] = op.group_name
            site.members[gid] = set()
        elif op.kind == LINK_GROUP:
            memory.groups[op.idp_group_id] = gid
        elif op.kind == LINK_USER:
            # The executor moves the link: one account belongs to one IdP user.
            for uid in [u for u, a in memory.users.items() if a == op.account_id]:
                del memory.users[uid]
            memory.users[op.idp_user_id] = op.account_id
        elif op.kind == INVITE_USER:
            acc = f"new-account-{op.idp_user_id}"
            site.accounts_by_email[op.email.lower()] = acc
            memory.users[op.idp_user_id] = acc
        elif op.kind == RESTORE_ACCESS:
            memory.suspended.discard(acc)
        elif op.kind == ADD_MEMBER:
            assert gid is not None and acc is not None, op
            site.members.setdefault(gid, set()).add(acc)
        elif op.kind == REMOVE_MEMBER:
            site.members.get(gid, set()).discard(acc)
        elif op.kind == SUSPEND_ACCESS:
            memory.suspended.add(acc)
        else:
            raise AssertionError(f"unknown op {op.kind}")
    return site, memory
