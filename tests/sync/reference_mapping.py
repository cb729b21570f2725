"""The mapping as first written (a copy of every group's members): the oracle for `desired`."""

from __future__ import annotations

from workers.sync.mapping import (
    Desired,
    _merge,
    _targets,
    member_closure,
    select_groups,
    user_passes,
)
from workers.sync.model import Snapshot
from workers.sync.policy import MappingPolicy


def desired(snapshot: Snapshot, policy: MappingPolicy) -> Desired:
    """Targets, members (flattened, filtered one group at a time), default groups."""
    domains = frozenset(d.lower().lstrip("@") for d in policy.users.email_domains)
    scope = {uid for uid, u in snapshot.users.items() if user_passes(u, policy.users, domains)}
    sources, notices = _targets(select_groups(snapshot.groups.values(), policy.groups), policy)
    closures = member_closure(snapshot, [g.id for g, _ in sources], policy.flatten_nested)
    result = Desired(idp_users=snapshot.users, notices=notices)
    linkable = policy.mode == "on_the_fly"
    for group, names in sources:
        users_here = closures[group.id] & scope
        for name in names:
            _merge(result, name, users_here, group.id if linkable else None,
                   explicit=not linkable)
    if policy.users.members_only:
        synced: set[str] = set().union(*result.members.values()) if result.members else set()
    else:
        synced = scope
    result.users = {uid: u for uid, u in snapshot.users.items() if uid in synced}
    for name in policy.default_groups:
        _merge(result, name, synced, None, default=True, explicit=True)
    return result
