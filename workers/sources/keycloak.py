"""Keycloak source: service-account token, users, the group tree (children or legacy subGroups), members, admin events."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from marshmallow import Schema, fields, validate

from workers.sources.base import PendingChanges, SourceConfigError, SourceError, SourceNotFound
from workers.sources.http import (
    ClientCredentialsAuth,
    HttpClient,
    HttpSource,
    SourceTransientError,
    Token,
    convert,
    copy_snapshot,
    drain,
    workers_field,
)
from workers.sources.records import apply_changes, strict
from workers.sync.model import Group, GroupSlice, Snapshot, User, UserSlice

EVENT_TYPES = ["USER", "GROUP", "GROUP_MEMBERSHIP"]


class KeycloakSettings(Schema):
    """What the admin types to connect a Keycloak realm."""

    base_url = fields.Url(required=True, require_tld=False, schemes={"https", "http"}, metadata={
        "label": "Keycloak URL", "secret": False,
        "help": "The server's address without /auth, e.g. https://sso.example.com"})
    realm = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "label": "Realm", "secret": False, "help": "The realm whose users and groups to read."})
    client_id = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "label": "Client ID", "secret": False,
        "help": "A confidential client with a service account holding realm-management "
                "view-users (and view-events for incremental sync)."})
    client_secret = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "label": "Client secret", "secret": True, "help": "The client's credential secret."})
    use_admin_events = fields.Boolean(load_default=False, metadata={
        "label": "Incremental sync from admin events", "secret": False,
        "help": "Read only the changes since the last sync, from the realm's admin events. "
                "Needs Realm settings > Events > Admin events settings > Save events on, and "
                "sees only changes made through the admin console or API."})
    page_size = fields.Integer(load_default=1000, validate=validate.Range(min=10, max=1000),
                               metadata={"label": "Page size", "secret": False,
                                         "help": "Users or groups per request."})
    workers = workers_field(8, "Keycloak publishes no rate limit; keep it modest")


class _RealmTokenAuth(ClientCredentialsAuth):
    """Client credentials that say 'no such realm' instead of a bare 404."""

    def __init__(self, token_url: str, realm: str, **kwargs: Any):
        super().__init__(token_url, **kwargs)
        self.realm = realm

    def request_token(self, client: HttpClient) -> Token:
        try:
            return super().request_token(client)
        except SourceNotFound:
            raise SourceNotFound(f"Keycloak has no realm {self.realm!r} at this URL "
                                 f"(check the realm name, and that the URL has no /auth).") from None


class KeycloakSource(HttpSource):
    """Reads one Keycloak realm through the Admin REST API."""

    kind = "keycloak"
    label = "Keycloak"
    settings_schema = KeycloakSettings
    supports_incremental = True
    supports_targeted = True

    def make_client(self) -> HttpClient:
        s = self.settings
        base = s["base_url"].rstrip("/")
        realm = quote(s["realm"], safe="")
        auth = _RealmTokenAuth(f"{base}/realms/{realm}/protocol/openid-connect/token", s["realm"],
                               client_id=s["client_id"], client_secret=s["client_secret"])
        return self.new_client(f"{base}/admin/realms/{realm}/", auth)

    @property
    def page_size(self) -> int:
        return int(self.settings.get("page_size") or 1000)

    def check(self) -> str:
        self.client.get_json("users", {"first": 0, "max": 1, "briefRepresentation": "true"})
        self.client.get_json("groups", {"first": 0, "max": 1, "briefRepresentation": "true"})
        if not self.settings.get("use_admin_events"):
            return f"Connected to realm {self.settings['realm']!r}: users and groups are readable."
        if not self._saves_admin_events():
            raise SourceConfigError(
                f"Realm {self.settings['realm']!r} does not save admin events, so incremental "
                f"sync would miss changes: turn on Realm settings > Events > Admin events "
                f"settings > Save events, or turn incremental sync off.")
        self._newest_event()
        return (f"Connected to realm {self.settings['realm']!r}: users, groups and admin "
                f"events are readable.")

    # -- full read ---------------------------------------------------------------------

    def fetch(self) -> Snapshot:
        snapshot = Snapshot()
        # without saved admin events no cursor can be trusted: every run then reads in full
        cursor = (self._newest_event() if self.settings.get("use_admin_events")
                  and self._saves_admin_events() else None)
        for user in convert(drain(self._pages("users"), snapshot, "users"), to_user, snapshot,
                            "user"):
            snapshot.add_user(user)
        self._read_groups(snapshot)
        self._read_members(snapshot, list(snapshot.groups))
        snapshot.cursor = cursor
        return snapshot

    def _pages(self, path: str, **params: Any):
        return self.client.pages_offset(path, {"briefRepresentation": "true", **params},
                                        page_size=self.page_size)

    def _read_groups(self, snapshot: Snapshot) -> None:
        pending: list[dict[str, Any]] = []
        top = drain(self._pages("groups"), snapshot, "groups")
        for found in convert(top, lambda g: self._add_group(snapshot, g, None), snapshot, "group"):
            pending.extend(found)
        while pending:  # Keycloak >= 23: one level of the tree per round, children in parallel
            results = self.client.map_concurrent(
                lambda g: [k for page in self._pages(f"groups/{g['id']}/children") for k in page],
                pending)
            pending = []
            for parent, kids, error in results:
                if error:
                    snapshot.mark_incomplete(f"reading subgroups of {parent['name']}: "
                                             f"{error.message}")
                    continue
                for found in convert(kids or [], lambda g, p=parent["id"]: self._add_group(
                        snapshot, g, p), snapshot, "group"):
                    pending.extend(found)

    def _add_group(self, snapshot: Snapshot, item: dict[str, Any],
                   parent_id: str | None) -> list[dict[str, Any]]:
        """Add one group; return the groups whose children still have to be listed."""
        snapshot.add_group(Group(id=item["id"], name=item.get("name") or item["id"],
                                 parent_ids=(parent_id,) if parent_id else ()))
        if "subGroupCount" not in item:  # before Keycloak 23 the tree comes inline
            return [g for sub in item.get("subGroups") or []
                    for g in self._add_group(snapshot, sub, item["id"])]
        return [item] if item.get("subGroupCount") else []

    def _read_members(self, snapshot: Snapshot, group_ids: list[str]) -> None:
        def members(gid: str) -> list[str]:
            return [u["id"] for page in self._pages(f"groups/{gid}/members") for u in page]

        for gid, ids, error in self.client.map_concurrent(members, group_ids):
            if error:
                snapshot.mark_incomplete(f"reading members of group {gid}: {error.message}")
                continue
            snapshot.members[gid] = set(ids or [])

    # -- one user, one group -----------------------------------------------------------

    def fetch_user(self, user_id: str) -> UserSlice:
        """GET users/{id}, then every page of users/{id}/groups (direct groups, with paths)."""
        uid = quote(user_id, safe="")
        item = self.get_or_none(f"users/{uid}")
        if item is None:
            return UserSlice(user_id, None)
        listed = [g for page in self._pages(f"users/{uid}/groups") for g in page]
        groups = tuple(strict(self._group_of, g, "group", self.label) for g in listed)
        return UserSlice(user_id, strict(to_user, item, "user", self.label), groups)

    def fetch_group(self, group_id: str) -> GroupSlice:
        """GET groups/{id}, then every page of groups/{id}/members."""
        gid = quote(group_id, safe="")
        item = self.get_or_none(f"groups/{gid}")
        if item is None:
            return GroupSlice(group_id, None)
        group = strict(self._group_of, item, "group", self.label)
        members = tuple(strict(to_user, u, "user", self.label)
                        for page in self._pages(f"groups/{gid}/members") for u in page)
        return GroupSlice(group_id, group, members)

    def _group_of(self, item: dict[str, Any]) -> Group:
        """A group with its parent: `parentId` from Keycloak 23 on, else found by its path."""
        if "parentId" in item:
            parent = item["parentId"]
        else:
            parent_path = str(item.get("path") or "").rstrip("/").rpartition("/")[0]
            parent = (self.client.get_json(f"group-by-path/{quote(parent_path.lstrip('/'))}")["id"]
                      if parent_path else None)
        return Group(id=item["id"], name=item.get("name") or item["id"],
                     parent_ids=(parent,) if parent else ())

    # -- incremental -------------------------------------------------------------------

    def _saves_admin_events(self) -> bool:
        """GET events/config (role view-events): whether the realm records admin events."""
        config = self.client.get_json("events/config")
        return isinstance(config, dict) and config.get("adminEventsEnabled") is True

    def _newest_event(self) -> str:
        events = self.client.get_json("admin-events", {"first": 0, "max": 1, "direction": "desc",
                                                       "resourceTypes": EVENT_TYPES})
        # with no event yet, every later event is news: "0" avoids trusting our own clock
        return str(events[0]["time"]) if events else "0"

    def fetch_changes(self, previous: Snapshot, cursor: str) -> Snapshot:
        pending = self.read_changes(cursor)
        return self.fetch() if pending is None else pending.apply(previous)

    def read_changes(self, cursor: str) -> PendingChanges | None:
        """Admin events after the cursor's event, read before any base is loaded: a first page
        (newest first) that starts with the cursor's own event means nothing changed. A log
        that cannot be trusted (saving turned off, the cursor's event expired or cleared, a page
        that keeps failing, a malformed event) is a full read, never a silent loss."""
        if not self.settings.get("use_admin_events") or not cursor.isdigit():
            return None
        full = PendingChanges(False, None, lambda previous: self.fetch())
        since = int(cursor)
        try:
            if not self._saves_admin_events():
                return full
            events = self._events_after(since)
        except (SourceTransientError, KeyError, TypeError, ValueError, AttributeError):
            return full  # a page that keeps failing or a malformed event: no gap is trusted
        if events is None:
            return full
        new_cursor = str(max((int(e["time"]) for e in events), default=since))
        return PendingChanges(not events, new_cursor,
                              lambda previous: self._applied(previous, events, new_cursor))

    def _events_after(self, since: int) -> list[dict[str, Any]] | None:
        """The events newer than `since`, newest first, paged until the event at `since`;
        None when the log no longer reaches back to it (a gap)."""
        day = time.strftime("%Y-%m-%d", time.gmtime(since / 1000 - 86_400))
        pages = self.client.pages_offset(
            "admin-events", {"resourceTypes": EVENT_TYPES, "dateFrom": day, "direction": "desc"},
            page_size=self.page_size)
        fresh: list[dict[str, Any]] = []
        for page in pages:
            fresh += [e for e in page if int(e["time"]) > since]
            if any(int(e["time"]) <= since for e in page):
                return fresh
        return fresh if since == 0 else None

    def _applied(self, previous: Snapshot, events: list[dict[str, Any]], cursor: str) -> Snapshot:
        if not previous.complete:
            return self.fetch()
        snapshot = copy_snapshot(previous)
        return apply_changes(
            snapshot, lambda: self._apply_events(snapshot, sorted(events, key=lambda e: int(e["time"]))),
            "Keycloak sent a malformed admin event", cursor)

    def _apply_events(self, snapshot: Snapshot, events: list[dict[str, Any]]) -> None:
        touched: set[str] = set()
        groups_changed = False
        for event in events:
            kind, op = event.get("resourceType"), event.get("operationType")
            parts = str(event.get("resourcePath", "")).split("/")
            if kind == "USER" and len(parts) >= 2:
                touched.add(parts[1])
            elif kind == "GROUP":
                groups_changed = True
            elif kind == "GROUP_MEMBERSHIP" and len(parts) >= 4:
                if op == "DELETE":
                    snapshot.members.get(parts[3], set()).discard(parts[1])
                elif parts[3] in snapshot.groups:
                    snapshot.add_member(parts[3], parts[1])
        for uid in touched:
            self._refresh_user(snapshot, uid)
        if groups_changed:
            self._refresh_groups(snapshot)

    def _refresh_user(self, snapshot: Snapshot, uid: str) -> None:
        try:
            snapshot.add_user(to_user(self.client.get_json(f"users/{quote(uid, safe='')}")))
        except SourceNotFound:
            snapshot.users.pop(uid, None)
            for ids in snapshot.members.values():
                ids.discard(uid)
        except SourceError as exc:
            snapshot.mark_incomplete(f"reading user {uid}: {exc.message}")

    def _refresh_groups(self, snapshot: Snapshot) -> None:
        fresh = Snapshot()
        self._read_groups(fresh)
        if not fresh.complete:
            snapshot.mark_incomplete("; ".join(fresh.errors))
            return
        new_ids = [gid for gid in fresh.groups if gid not in snapshot.groups]
        kept = {gid: snapshot.members.get(gid, set()) for gid in fresh.groups}
        snapshot.groups, snapshot.members = dict(fresh.groups), kept
        self._read_members(snapshot, new_ids)


def to_user(item: dict[str, Any]) -> User:
    """A User from a Keycloak user representation."""
    name = " ".join(p for p in (item.get("firstName"), item.get("lastName")) if p)
    return User(id=item["id"], email=item.get("email") or "",
                display_name=name or item.get("username") or "",
                active=bool(item.get("enabled", True)))


