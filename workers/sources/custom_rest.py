"""Custom REST source: any JSON API described by settings (endpoints, auth, paging, JSON paths)."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from math import ceil
from typing import Any
from urllib.parse import quote, urljoin

from workers.backoff import BackoffPolicy
from workers.sources import custom_rest_slices, json_path
from workers.sources.base import SourceError
from workers.sources.custom_rest_records import group_from, member_ids, to_user
from workers.sources.custom_rest_settings import CustomRestSettingsSchema
from workers.sources.http import (
    Auth,
    HttpClient,
    HttpSource,
    RefreshingClientCredentials,
    SourceTransientError,
    StaticAuth,
    drain,
)
from workers.sources.records import skip_malformed
from workers.sync.model import Group, GroupSlice, Snapshot, UserSlice


class HeaderAuth(Auth):
    """An API key in a header of the API's choosing."""

    def __init__(self, header: str, value: str):
        self.header, self.value = header, value

    def headers(self, client: HttpClient, method: str, url: str) -> dict[str, str]:
        return {self.header: self.value}


def make_auth(config: Mapping[str, Any]) -> Auth:
    """The Auth for the configured mode."""
    mode = config["auth"]
    if mode == "bearer":
        return StaticAuth(f"Bearer {config['token']}")
    if mode == "basic":
        pair = f"{config['username']}:{config['password']}".encode()
        return StaticAuth("Basic " + base64.b64encode(pair).decode())
    if mode == "api_key":
        return HeaderAuth(config["api_key_header"], config["api_key"])
    if mode == "oauth":
        return RefreshingClientCredentials(config["token_url"], config["client_id"],
                                     client_secret=config["client_secret"],
                                     scope=config["scope"] or None,
                                     secret_style=config["client_auth"])
    return Auth()


class Paging:
    """Walks one list endpoint in the configured paging style, yielding lists of items."""

    def __init__(self, client: HttpClient, config: Mapping[str, Any]):
        self.client = client
        self.c = config

    def items(self, body: Any, items_path: str, path: str) -> list[Any]:
        found = json_path.get(body, items_path)
        if not isinstance(found, list):
            where = f"at {items_path!r}" if items_path else "at the top level"
            raise SourceError(f"The answer of {path} has no list {where}: check the items path.")
        return found

    def pages(self, path: str, items_path: str) -> Iterator[list[Any]]:
        style, size = self.c["paging"], self.c["page_size"]
        first: dict[str, Any] = {} if style == "none" else {self.c["size_param"]: size}
        if style in ("offset", "page"):
            yield from self._numbered(path, items_path)
        elif style == "link":
            for body in self.client.pages_link(path, first):
                yield self.items(body, items_path, path)
        else:
            yield from self._chained(path, items_path, first)

    def listing(self, path: str, items_path: str, snapshot: Snapshot, what: str) -> list[Any]:
        """Every item of a list endpoint; with numbered paging and a total, the pages after the
        first are read concurrently. A page that still fails marks the snapshot incomplete."""
        if self.c["paging"] not in ("offset", "page") or not self.c["total_path"]:
            return drain(self.pages(path, items_path), snapshot, what)
        try:
            body = self.client.get_json(path, self._where(0, 0))
        except SourceTransientError as exc:
            snapshot.mark_incomplete(f"reading {what}: {exc.message}")
            return []
        items = self.items(body, items_path, path)
        total, step = json_path.get(body, self.c["total_path"]), len(items)
        if not _is_int(total):  # no total after all: go on page by page
            return items + drain(self._numbered(path, items_path, step, 1), snapshot, what)
        if not step or step >= int(total):
            return items

        def page(k: int) -> list[Any]:
            return self.items(self.client.get_json(path, self._where(k * step, k)), items_path,
                              path)

        for k, batch, error in self.client.map_concurrent(page, range(1, ceil(int(total) / step))):
            if error is not None:
                snapshot.mark_incomplete(f"reading {what}, page {k + 1}: {error.message}")
            items += batch or []
        return items

    def _where(self, read: int, index: int) -> dict[str, Any]:
        """Query of the numbered page that starts at item `read` (the `index`-th page)."""
        where = ({self.c["offset_param"]: read} if self.c["paging"] == "offset"
                 else {self.c["page_param"]: self.c["first_page"] + index})
        return {self.c["size_param"]: self.c["page_size"], **where}

    def _numbered(self, path: str, items_path: str, read: int = 0, index: int = 0
                  ) -> Iterator[list[Any]]:
        """Offset/limit or page-number paging, one page after the other."""
        size = self.c["page_size"]
        while True:
            body = self.client.get_json(path, self._where(read, index))
            batch = self.items(body, items_path, path)
            yield batch
            read, index = read + len(batch), index + 1
            total = json_path.get(body, self.c["total_path"]) if self.c["total_path"] else None
            if not batch or (read >= int(total) if _is_int(total) else len(batch) < size):
                return

    def _chained(self, path: str, items_path: str, params: dict[str, Any]
                 ) -> Iterator[list[Any]]:
        """No paging, a cursor in the body, or the next page's URL in the body."""
        url = path
        while True:
            body = self.client.get_json(url, params)
            yield self.items(body, items_path, path)
            style = self.c["paging"]
            if style == "cursor":
                cursor = json_path.get(body, self.c["cursor_path"])
                if cursor in (None, ""):
                    return
                params = {**params, self.c["cursor_param"]: cursor}
            elif style == "next_url":
                nxt = json_path.get(body, self.c["next_url_path"])
                if not nxt:
                    return
                # relative next links resolve against the page that gave them; an absolute
                # one must stay on the base URL's origin, or our credentials would follow it
                if not isinstance(nxt, str):
                    raise SourceError(f"The answer of {path} has a {type(nxt).__name__} at "
                                      f"{self.c['next_url_path']!r} where the next page's URL "
                                      f"belongs: check the next URL path.")
                url = self.client.same_origin(urljoin(self.client.url(url), nxt))
                params = {}
            else:
                return


def _is_int(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


class CustomRestSource(HttpSource):
    """Reads users, groups and members from a JSON API the admin describes in settings."""

    kind = "custom_rest"
    label = "Custom REST API"
    settings_schema = CustomRestSettingsSchema
    default_workers = 4
    default_backoff = BackoffPolicy(initial=1.0, cap=30.0, max_retries=5)

    def make_client(self) -> HttpClient:
        config = self.settings
        return self.new_client(config["base_url"], make_auth(config))

    def check(self) -> str:
        config, paging = self.settings, Paging(self.client, self.settings)
        users = next(paging.pages(config["users_path"], config["items_path"]))
        message = f"Connected: {len(users)} users on the first page"
        if config["groups_path"]:
            groups = next(paging.pages(config["groups_path"], config["items_path"]))
            message += f", {len(groups)} groups on the first page"
        return message + "."

    @property
    def supports_targeted(self) -> bool:  # type: ignore[override]
        """Only when the settings name the one-user, user-groups and one-group endpoints."""
        s = self.settings
        return bool(s.user_path and s.user_groups_path and s.group_path and s.groups_path)

    def fetch_user(self, user_id: str) -> UserSlice:
        return custom_rest_slices.fetch_user(self, Paging(self.client, self.settings), user_id)

    def fetch_group(self, group_id: str) -> GroupSlice:
        return custom_rest_slices.fetch_group(self, Paging(self.client, self.settings), group_id)

    def fetch(self) -> Snapshot:
        config, snapshot = self.settings, Snapshot()
        paging = Paging(self.client, config)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="rest") as pool:
            users = pool.submit(paging.listing, config["users_path"], config["items_path"],
                                snapshot, "users")
            groups = pool.submit(paging.listing, config["groups_path"], config["items_path"],
                                 snapshot, "groups") if config["groups_path"] else None
            for item in users.result():
                self._add_user(config, item, snapshot)
            if groups is not None:
                self._add_groups(config, paging, groups.result(), snapshot)
        return snapshot

    @staticmethod
    def _add_user(config: Mapping[str, Any], item: Any, snapshot: Snapshot) -> None:
        user = to_user(config, item)
        if user is None:
            skip_malformed(snapshot, "user", f"no {config['user_id_path']!r}", item)
        else:
            snapshot.add_user(user)

    def _add_groups(self, config: Mapping[str, Any], paging: Paging, items: list[Any],
                    snapshot: Snapshot) -> None:
        groups, read = {}, {}
        for item in items:
            group = group_from(config, item)
            if group is None:
                skip_malformed(snapshot, "group", f"no {config['group_id_path']!r}", item)
                continue
            groups[group.id], read[group.id] = item, group
        for group in read.values():  # a parent outside the listing is not ours
            snapshot.add_group(Group(group.id, group.name,
                                     tuple(p for p in group.parent_ids if p in groups)))
        if config["members"] == "embedded":
            for gid, item in groups.items():
                self._add_members(config, gid, json_path.get(item, config["group_members_path"]),
                                  snapshot)
            return
        for gid, members, error in self.client.map_concurrent(
                lambda g: self.read_members(config, paging, g), list(groups)):
            if error is not None:
                snapshot.mark_incomplete(f"members of group {gid}: {error.message}")
            self._add_members(config, gid, members or [], snapshot)

    def read_members(self, config: Mapping[str, Any], paging: Paging, gid: str) -> list[Any]:
        """One group's member items from the members endpoint."""
        path = config["members_path"].replace("{id}", quote(gid, safe=""))
        items_path = config["members_items_path"] or config["items_path"]
        return [m for page in paging.pages(path, items_path) for m in page]

    @staticmethod
    def _add_members(config: Mapping[str, Any], gid: str, members: Any, snapshot: Snapshot) -> None:
        for user_id in member_ids(config, members):
            if user_id in snapshot.users:  # members outside the user listing are not ours
                snapshot.add_member(gid, user_id)
