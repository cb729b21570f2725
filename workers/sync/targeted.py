"""A targeted run's fetch: the named users and groups read one by one and laid over the stored base."""

from __future__ import annotations

from collections.abc import Iterable

from workers.sources.base import Source
from workers.sources.http import drop_member, own_members, shared_copy
from workers.sync.model import GroupSlice, Snapshot, UserSlice
from workers.sync.scope import Scope


def patched(base: Snapshot, users: Iterable[UserSlice], groups: Iterable[GroupSlice]) -> Snapshot:
    """A copy of `base` with what the slices say now; `base` itself is left as it was.

    A user slice is complete for that user (every direct group), a group slice for that
    group (every direct member), so each replaces what the base had for it. Only the member
    sets these change are copied; the others stay the base's own objects."""
    out = shared_copy(base)
    owned: set[str] = set()
    for one in groups:
        if one.group is None:
            out.groups.pop(one.group_id, None)
            out.members.pop(one.group_id, None)
            owned.discard(one.group_id)
            continue
        out.groups[one.group_id] = one.group
        out.members[one.group_id] = {u.id for u in one.members}
        owned.add(one.group_id)
        for user in one.members:
            out.users[user.id] = user
    for one in users:
        drop_member(out, one.user_id)
        if one.user is None:
            out.users.pop(one.user_id, None)
            continue
        out.users[one.user_id] = one.user
        for group in one.groups:
            if group.id not in out.groups:
                out.groups[group.id] = group
            own_members(out, group.id, owned).add(one.user_id)
    return out


def fetch_scope(source: Source, base: Snapshot, scope: Scope) -> Snapshot:
    """Read each named user and group from the IdP and lay them over `base`."""
    groups = [source.fetch_group(gid) for gid in sorted(scope.groups)]
    users = [source.fetch_user(uid) for uid in sorted(scope.users)]
    return patched(base, users, groups)
