"""Change reads of a SCIM 2.0 service provider: resources filtered on meta.lastModified since the cursor (RFC 7644 3.4.2.2), and totals that reveal deletions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workers.sources.base import PendingChanges
from workers.sources.http import SourceTransientError, copy_snapshot, incomplete_copy
from workers.sources.scim_paging import (
    ScimCursor,
    ScimReader,
    apply_groups,
    drop_missing,
    last_modified,
    list_page,
    user_from,
)
from workers.sync.model import Snapshot

Fetch = Callable[[], Snapshot]


def total(reader: ScimReader, path: str) -> int:
    """totalResults of `path`, reading one id (count=0 is in RFC 7644 but not every server honours it)."""
    return list_page(reader.client, path, {"attributes": "id"}, 1, 1)[1]


def read_changes(reader: ScimReader, cursor: str, fetch: Fetch) -> PendingChanges | None:
    """The users and groups modified since the cursor, and both totals, read side by side;
    None for a cursor this version did not write (the run then reads in full).

    A filter cannot show a deleted resource, hence the totals (one id per answer): nothing
    changed when both filters come back empty and both totals are the cursor's; when a total
    does not add up after the changes are applied, the id listings find what went away."""
    last = ScimCursor.parse(cursor)
    if last is None:
        return None
    probe = Snapshot()
    since = f'meta.lastModified gt "{last.since}"'
    jobs: dict[str, Callable[[], Any]] = {
        "users": lambda: reader.users(probe, since),
        "groups": lambda: reader.groups(probe, since),
        "user_total": lambda: total(reader, reader.users_path),
        "group_total": lambda: total(reader, reader.groups_path)}
    found: dict[str, Any] = {}
    for name, value, error in reader.client.map_concurrent(lambda n: jobs[n](), list(jobs)):
        if isinstance(error, SourceTransientError):
            probe.mark_incomplete(f"reading {name.replace('_', ' ')}: {error.message}")
        elif error is not None and getattr(error, "status", None) == 400:
            # the server refuses the filter now (RFC 7644 invalidFilter): start over in full
            return PendingChanges(False, None, lambda previous: fetch())
        elif error is not None:
            raise error
        found[name] = value
    if not probe.complete:
        message = "; ".join(probe.errors)
        return PendingChanges(False, None, lambda previous: incomplete_copy(previous, message))
    users, groups = found["users"], found["groups"]
    new = ScimCursor(max(last.since, last_modified(users + groups) or last.since),
                     found["user_total"], found["group_total"])
    empty = not users and not groups and (new.users, new.groups) == (last.users, last.groups)
    return PendingChanges(empty, new.encode(),
                          lambda previous: applied(reader, previous, users, groups, new, fetch))


def applied(reader: ScimReader, previous: Snapshot, users: list[dict[str, Any]],
            groups: list[dict[str, Any]], cursor: ScimCursor, fetch: Fetch) -> Snapshot:
    """`previous` with the changed resources; the id listings only when a total shows a loss."""
    if not previous.complete:
        return fetch()
    snapshot = copy_snapshot(previous)
    for resource in users:
        user = user_from(resource)
        if user:
            snapshot.add_user(user)
    apply_groups(snapshot, groups, replace={str(g.get("id")) for g in groups})
    user_ids = (None if len(snapshot.users) == cursor.users
                else reader.ids(reader.users_path, snapshot))
    group_ids = (None if len(snapshot.groups) == cursor.groups
                 else reader.ids(reader.groups_path, snapshot))
    if ((user_ids is not None and user_ids - set(snapshot.users))
            or (group_ids is not None and group_ids - set(snapshot.groups))):
        return fetch()  # the server lists what the base never saw: only a full read is sure
    drop_missing(snapshot, user_ids, group_ids)
    snapshot.cursor = cursor.encode()
    return snapshot

