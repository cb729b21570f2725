"""Reading a SCIM 2.0 service provider (RFC 7644): list paging, resources to snapshot, the change cursor."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from workers.sources.base import SourceError
from workers.sources.http import HttpClient, SourceTransientError
from workers.sync.model import Group, Snapshot, User

USER_ATTRIBUTES = "userName,displayName,name,emails,active,meta"
GROUP_ATTRIBUTES = "displayName,members,meta"


def list_page(client: HttpClient, path: str, params: dict[str, Any], start: int, count: int
              ) -> tuple[list[dict[str, Any]], int]:
    """One page of a SCIM list: its resources and the server's totalResults."""
    body = client.get_json(path, {**params, "startIndex": start, "count": count})
    if not isinstance(body, dict):
        raise SourceError(f"{client.label} answered {path} with something that is not a "
                          "SCIM ListResponse.")
    resources = [r for r in body.get("Resources") or [] if isinstance(r, dict)]
    return resources, _int(body.get("totalResults"))


def scim_list(client: HttpClient, path: str, params: dict[str, Any], page_size: int,
              snapshot: Snapshot, what: str) -> list[dict[str, Any]]:
    """Every resource of a list: the first page tells the total, the other pages are read
    concurrently; a page that still fails marks the snapshot incomplete."""
    try:
        resources, total = list_page(client, path, params, 1, page_size)
    except SourceTransientError as exc:
        snapshot.mark_incomplete(f"reading {what}: {exc.message}")
        return []
    step = len(resources)  # the server may cap `count`: step by what it really gives
    if not step or step >= total:
        return resources
    starts = list(range(1 + step, total + 1, step))
    for start, page, error in client.map_concurrent(
            lambda at: list_page(client, path, params, at, step)[0], starts):
        if error is not None:
            snapshot.mark_incomplete(f"reading {what} from {start}: {error.message}")
            continue
        resources += page or []
        if page is not None and 0 < len(page) < step and start + step <= total:
            resources += _fill_gap(client, path, params, start + len(page), start + step)
    return resources


def _fill_gap(client: HttpClient, path: str, params: dict[str, Any], start: int, stop: int
              ) -> list[dict[str, Any]]:
    """A page came back short in the middle of the list: read the rest of its range in order."""
    out: list[dict[str, Any]] = []
    while start < stop:
        page, _ = list_page(client, path, params, start, stop - start)
        if not page:
            break
        out += page
        start += len(page)
    return out


def user_from(resource: dict[str, Any]) -> User | None:
    """A User from a SCIM User resource (None without an id)."""
    user_id = resource.get("id")
    if not user_id:
        return None
    name = resource.get("name") if isinstance(resource.get("name"), dict) else {}
    display = (resource.get("displayName") or name.get("formatted")
               or " ".join(p for p in (name.get("givenName"), name.get("familyName")) if p)
               or resource.get("userName") or "")
    return User(id=str(user_id), email=primary_email(resource), display_name=str(display),
                active=_truthy(resource.get("active", True)))


def primary_email(resource: dict[str, Any]) -> str:
    """The primary e-mail, else the first, else a userName that looks like an address."""
    emails = [e for e in resource.get("emails") or [] if isinstance(e, dict) and e.get("value")]
    chosen = next((e for e in emails if e.get("primary") is True), emails[0] if emails else None)
    if chosen:
        return str(chosen["value"])
    user_name = str(resource.get("userName") or "")
    return user_name if "@" in user_name else ""


def last_modified(resources: list[dict[str, Any]]) -> str | None:
    """The latest meta.lastModified among `resources` (ISO 8601 strings sort in time order)."""
    stamps = [str(r["meta"]["lastModified"]) for r in resources
              if isinstance(r.get("meta"), dict) and r["meta"].get("lastModified")]
    return max(stamps, default=None)


@dataclass(frozen=True, slots=True)
class ScimCursor:
    """Where a read left a SCIM server: the latest meta.lastModified the base holds (the
    server's own clock, so no margin is needed) and how many users and groups it listed then;
    a total that moved with nothing changed since means a deletion (filters cannot show one)."""

    since: str
    users: int
    groups: int

    def encode(self) -> str:
        return json.dumps({"since": self.since, "users": self.users, "groups": self.groups},
                          sort_keys=True, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str | None) -> ScimCursor | None:
        """The cursor in `text`; None for anything else (the bare stamps of earlier versions)."""
        try:
            data = json.loads(text or "")
            cursor = cls(data["since"], data["users"], data["groups"])
        except (ValueError, TypeError, KeyError):
            return None
        fine = (isinstance(cursor.since, str) and cursor.since and '"' not in cursor.since
                and all(isinstance(n, int) and not isinstance(n, bool)
                        for n in (cursor.users, cursor.groups)))
        return cursor if fine else None  # a quote would end the filter's string: never sent


def full_cursor(users: list[dict[str, Any]], groups: list[dict[str, Any]]) -> str | None:
    """The cursor after a full read of `users` and `groups` (None when no resource is stamped)."""
    since = last_modified(users + groups)
    return ScimCursor(since, len(users), len(groups)).encode() if since else None


def _truthy(value: Any) -> bool:
    return value.strip().lower() != "false" if isinstance(value, str) else value is not False


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class ScimReader:
    """Reads users, groups and their members from one SCIM service provider into a Snapshot.

    Group members come from the group listing (asked for with `attributes=members`); groups
    the listing returned without members are read one by one, concurrently.
    """

    def __init__(self, client: HttpClient, *, page_size: int = 100, group_page_size: int = 100,
                 users_path: str = "Users", groups_path: str = "Groups"):
        self.client = client
        self.page_size = page_size
        self.group_page_size = group_page_size
        self.users_path = users_path
        self.groups_path = groups_path

    # -- listings ---------------------------------------------------------------------------

    def users(self, snapshot: Snapshot, scim_filter: str | None = None) -> list[dict[str, Any]]:
        params = {"attributes": USER_ATTRIBUTES, **({"filter": scim_filter} if scim_filter else {})}
        return scim_list(self.client, self.users_path, params, self.page_size, snapshot, "users")

    def groups(self, snapshot: Snapshot, scim_filter: str | None = None) -> list[dict[str, Any]]:
        """Group resources, each with a `members` list (read separately where the list had none)."""
        params = {"attributes": GROUP_ATTRIBUTES, **({"filter": scim_filter} if scim_filter else {})}
        groups = scim_list(self.client, self.groups_path, params, self.group_page_size,
                           snapshot, "groups")
        self.complete_members(groups, snapshot)
        return groups

    def both(self, snapshot: Snapshot, scim_filter: str | None
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Users and groups, the two listings side by side."""
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="scim") as pool:
            users = pool.submit(self.users, snapshot, scim_filter)
            groups = pool.submit(self.groups, snapshot, scim_filter)
            return users.result(), groups.result()

    def ids(self, path: str, snapshot: Snapshot) -> set[str] | None:
        """Every id under `path` (for noticing deletions); None when the listing failed."""
        before = len(snapshot.errors)
        found = scim_list(self.client, path, {"attributes": "id"}, self.page_size, snapshot,
                          f"{path} ids")
        return None if len(snapshot.errors) > before else {str(r.get("id")) for r in found}

    def complete_members(self, groups: list[dict[str, Any]], snapshot: Snapshot) -> None:
        # absent `members` means "empty" only when the listing showed members elsewhere
        if any("members" in g for g in groups):
            return
        results = self.client.map_concurrent(self.read_members, [g for g in groups if g.get("id")])
        for group, members, error in results:
            if error is not None:
                snapshot.mark_incomplete(f"members of group {group.get('displayName')}: "
                                         f"{error.message}")
            group["members"] = members or []

    def read_members(self, group: dict[str, Any]) -> list[dict[str, Any]]:
        """One group's members, asked for explicitly (servers may leave them out of lists)."""
        body = self.client.get_json(f"{self.groups_path}/{group['id']}", {"attributes": "members"})
        return list(body.get("members") or []) if isinstance(body, dict) else []

    # -- whole reads ------------------------------------------------------------------------

    def fetch(self, with_cursor: bool = True) -> Snapshot:
        snapshot = Snapshot()
        users, groups = self.both(snapshot, None)
        for resource in users:
            user = user_from(resource)
            if user:
                snapshot.add_user(user)
        apply_groups(snapshot, groups, replace=set())
        if with_cursor:
            snapshot.cursor = full_cursor(users, groups)
        return snapshot


def apply_groups(snapshot: Snapshot, groups: list[dict[str, Any]], replace: set[str]) -> None:
    """Add (or, for ids in `replace`, overwrite) groups, their direct members and nesting."""
    for gid in replace:
        snapshot.members[gid] = set()
    listed = {str(g["id"]) for g in groups if g.get("id")}
    known = set(snapshot.groups) | listed
    children: dict[str, list[str]] = {}
    for resource in groups:
        gid = str(resource.get("id") or "")
        for member in resource.get("members") or []:
            value = str(member.get("value") or "") if isinstance(member, dict) else ""
            kind = str(member.get("type") or "").lower() if isinstance(member, dict) else ""
            if kind == "group" or (not kind and value in known and value not in snapshot.users):
                children.setdefault(value, []).append(gid)
            elif gid and value in snapshot.users:  # members outside the user listing are skipped
                snapshot.add_member(gid, value)
    for resource in groups:
        gid = str(resource.get("id") or "")
        if gid:  # a re-read child keeps the parents that were not re-read (they list it)
            kept = snapshot.groups[gid].parent_ids if gid in snapshot.groups else ()
            snapshot.add_group(Group(id=gid, name=str(resource.get("displayName") or gid),
                                     parent_ids=kept))
    _relink_parents(snapshot, listed, children)


def _relink_parents(snapshot: Snapshot, changed: set[str], children: dict[str, list[str]]) -> None:
    """Parent ids from the member lists just read; parents not re-read keep their links."""
    for gid, group in list(snapshot.groups.items()):
        kept = [p for p in group.parent_ids if p not in changed]
        new = kept + [p for p in children.get(gid, []) if p not in kept]
        if tuple(new) != group.parent_ids:
            snapshot.groups[gid] = Group(id=gid, name=group.name, parent_ids=tuple(new))


def drop_missing(snapshot: Snapshot, user_ids: set[str] | None,
                 group_ids: set[str] | None) -> None:
    """Remove users and groups the server no longer lists (skipped when a listing failed)."""
    if user_ids is not None:
        gone = set(snapshot.users) - user_ids
        for uid in gone:
            del snapshot.users[uid]
        if gone:
            for members in snapshot.members.values():
                members -= gone
    if group_ids is not None:
        gone = set(snapshot.groups) - group_ids
        for gid in gone:
            snapshot.groups.pop(gid)
            snapshot.members.pop(gid, None)
        if gone:
            _relink_parents(snapshot, gone, {})


def check_listing(client: HttpClient, path: str) -> int:
    """How many resources `path` holds, reading one (for test_connection)."""
    body = client.get_json(path, {"startIndex": 1, "count": 1, "attributes": "id"})
    if not isinstance(body, dict) or "totalResults" not in body:
        raise SourceError(f"{client.label} answered {path} without a SCIM ListResponse: check "
                          "the base URL.")
    return _int(body.get("totalResults"))

