"""One user or one group from a SCIM 2.0 service provider (RFC 7644 3.4.1 GET of one resource).

A User carries its groups (RFC 7643 4.1.2, `type` direct or indirect); a group's parents are
the groups listing it as a member, found with `filter=members.value eq "<id>"` where the server
filters, else by reading the group list.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote

from workers.sources.base import SourceError, SourceNotFound
from workers.sources.records import every, require_complete, strict
from workers.sources.scim_paging import USER_ATTRIBUTES, ScimReader, list_page, user_from
from workers.sync.model import Group, GroupSlice, Snapshot, User, UserSlice


def _one(reader: ScimReader, path: str, attributes: str) -> dict[str, Any] | None:
    try:
        body = reader.client.get_json(path, {"attributes": attributes})
    except SourceNotFound:
        return None
    if not isinstance(body, dict):
        raise SourceError(f"{reader.client.label} answered {path} with something that is not a "
                          f"SCIM resource.")
    return body


def _user(reader: ScimReader, resource: dict[str, Any]) -> User:
    user = strict(user_from, resource, "user", reader.client.label)
    if user is None:
        raise SourceError(f"{reader.client.label} sent a user without an id.")
    return user


def fetch_user(reader: ScimReader, user_id: str, filtering: bool) -> UserSlice:
    """GET /Users/{id} with its groups; each direct group with its name and parents."""
    resource = _one(reader, f"{reader.users_path}/{quote(user_id, safe='')}",
                    f"{USER_ATTRIBUTES},groups")
    if resource is None:
        return UserSlice(user_id, None)
    user = _user(reader, resource)
    direct = [g for g in resource.get("groups") or [] if isinstance(g, dict) and g.get("value")
              and str(g.get("type") or "direct").lower() == "direct"]
    parents = Parents(reader, filtering)
    groups = every(reader.client.map_concurrent(
        lambda g: Group(str(g["value"]), str(g.get("display") or g["value"]),
                        parents.of(str(g["value"]))), direct))
    return UserSlice(user_id, user, tuple(group for _, group in groups))


def fetch_group(reader: ScimReader, group_id: str, filtering: bool) -> GroupSlice:
    """GET /Groups/{id}, its members (the reader's way), each user member by GET /Users/{id}."""
    resource = _one(reader, f"{reader.groups_path}/{quote(group_id, safe='')}",
                    "displayName,meta")
    if resource is None:
        return GroupSlice(group_id, None)
    members = reader.read_members({**resource, "id": group_id})
    user_ids = [str(m["value"]) for m in members if isinstance(m, dict) and m.get("value")
                and str(m.get("type") or "user").lower() == "user"]
    found = every(reader.client.map_concurrent(
        lambda uid: _one(reader, f"{reader.users_path}/{quote(uid, safe='')}", USER_ATTRIBUTES),
        user_ids))
    # an untyped member that is no user (a nested group) or a user deleted meanwhile: not ours
    users = tuple(_user(reader, r) for _, r in found if r is not None)
    group = Group(group_id, str(resource.get("displayName") or group_id),
                  Parents(reader, filtering).of(group_id))
    return GroupSlice(group_id, group, users)


class Parents:
    """The groups that list a group as a member: a filter per group, or one read of the list."""

    def __init__(self, reader: ScimReader, filtering: bool):
        self.reader, self.filtering = reader, filtering
        self._all: dict[str, tuple[str, ...]] | None = None
        self._lock = threading.Lock()  # callers read parents concurrently: list once

    def of(self, group_id: str) -> tuple[str, ...]:
        if not self.filtering:
            return self._from_list().get(group_id, ())
        params = {"filter": f'members.value eq "{group_id}"', "attributes": "id"}
        found: list[str] = []
        start = 1
        while True:
            page, total = list_page(self.reader.client, self.reader.groups_path, params, start,
                                    self.reader.group_page_size)
            found += [str(r["id"]) for r in page if r.get("id")]
            start += len(page)
            if not page or start > total:
                return tuple(sorted(p for p in found if p != group_id))

    def _from_list(self) -> dict[str, tuple[str, ...]]:
        with self._lock:
            return self._read_list()

    def _read_list(self) -> dict[str, tuple[str, ...]]:
        if self._all is None:
            snapshot = Snapshot()
            groups = self.reader.groups(snapshot)
            require_complete(snapshot, f"{self.reader.client.label}'s group list")
            parents: dict[str, list[str]] = {}
            for resource in groups:
                for member in resource.get("members") or []:
                    if isinstance(member, dict) and member.get("value"):
                        parents.setdefault(str(member["value"]), []).append(str(resource["id"]))
            self._all = {gid: tuple(sorted(ids)) for gid, ids in parents.items()}
        return self._all
