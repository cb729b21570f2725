"""Group, membership and invite writes through the organization API v2, with one org API key.

The org API's groups are the site's groups (the same groupIds Jira and Confluence answer), so
the sync's mirror stays valid whichever path wrote. Every write names the directory that holds
the group; an org usually has one, and the group search says which for each group.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests

from workers.atlassian import products
from workers.atlassian.errors import (
    LICENCE_HINT,
    BadRequestError,
    ConflictError,
    LicenceExceededError,
    NotFoundError,
)
from workers.atlassian.http import json_body
from workers.atlassian.target import AtlassianGroup, AtlassianUser

ALREADY_MEMBER, NOT_MEMBER, GROUP_EXISTS = (products.ALREADY_MEMBER, products.NOT_MEMBER,
                                            products.GROUP_EXISTS)
USER_LIMIT = re.compile(r"user limit|licen[cs]ed users|licen[cs]e", re.IGNORECASE)
# The access group each invite product grants on a site with classic product access
ACCESS_GROUPS = {"jira-software": "jira-software-users", "jira-core": "jira-core-users",
                 "jira-servicedesk": "jira-servicemanagement-users",
                 "jira-product-discovery": "jira-product-discovery-users"}

Send = Callable[..., requests.Response]  # (call, accept=…, final=…) -> response


class OrgWrites:
    """The sync's writes as organization API v2 calls; thread-safe (share one per site)."""

    def __init__(self, org_id: str, send: Send, directories: Callable[[], list[str]]) -> None:
        self.org_id, self._send, self._directories = org_id, send, directories
        self._lock = threading.Lock()
        self._group_directory: dict[str, str] = {}

    # -- groups -----------------------------------------------------------------------
    def create_group(self, name: str) -> AtlassianGroup:
        """Creates the group in the org's first directory; the answer has no body, so the
        group is then looked up by name (which also covers one created meanwhile)."""
        directories = self._directories()
        if not directories:
            raise NotFoundError("create_group", "the organization has no directory")
        call = products.Call("create_group", "POST", self._path(directories[0], "groups"),
                             json={"name": name})
        response = self._send(call, accept=lambda r: r.status_code in (400, 409)
                              and bool(GROUP_EXISTS.search(r.text)))
        group = self.find_group(name)
        if group is None:
            raise ConflictError("create_group", f"group {name!r} was created or exists but the "
                                "organization's group search does not find it",
                                remote_message=response.text[:200])
        return group

    def find_group(self, name: str) -> AtlassianGroup | None:
        body = _json("org_find_groups", self._send(
            products.org_find_groups(self.org_id, names=[name])))
        for item in body.get("data") or []:
            if isinstance(item, dict) and str(item.get("name", "")).lower() == name.lower() \
                    and item.get("id"):
                self._remember(item)
                return AtlassianGroup(str(item["id"]), str(item["name"]))
        return None

    def directory_of(self, group_id: str) -> str:
        """The directory holding the group (cached); NotFoundError when the org has no such group."""
        with self._lock:
            known = self._group_directory.get(group_id)
        if known is not None:
            return known
        body = _json("org_find_groups", self._send(
            products.org_find_groups(self.org_id, ids=[group_id])))
        for item in body.get("data") or []:
            if isinstance(item, dict) and item.get("id") == group_id:
                return self._remember(item)
        raise NotFoundError("org_find_groups", f"the organization has no group {group_id}",
                            status=404)

    def _remember(self, item: dict[str, Any]) -> str:
        directory = str(item.get("directoryId") or (self._directories() or ["-"])[0])
        with self._lock:
            self._group_directory[str(item["id"])] = directory
        return directory

    # -- memberships ------------------------------------------------------------------
    def add_member(self, group_id: str, account_id: str) -> None:
        call = products.Call("add_member", "POST", self._path(
            self.directory_of(group_id), "groups", group_id, "memberships"),
            json={"accountId": account_id})
        self._send(call, accept=lambda r: r.status_code in (400, 409)
                   and bool(ALREADY_MEMBER.search(r.text)), final=_user_limit)

    def remove_member(self, group_id: str, account_id: str) -> None:
        call = products.Call("remove_member", "DELETE", self._path(
            self.directory_of(group_id), "groups", group_id, "memberships", account_id))
        self._send(call, accept=lambda r: r.status_code in (400, 404, 409)
                   and bool(NOT_MEMBER.search(r.text)))

    # -- invites ----------------------------------------------------------------------
    def invite_user(self, email: str, products_: list[str],
                    find_group: Callable[[str], AtlassianGroup | None] | None = None
                    ) -> AtlassianUser:
        """Invites one person, adding them to the access group of each product asked for
        (the invite's `additionalGroups`); an account that exists is answered as it is."""
        find = find_group or self.find_group
        groups: list[str] = []
        for product in products_:
            name = ACCESS_GROUPS.get(product, product)
            group = find(name)
            if group is None:
                raise BadRequestError("invite_user", f"the site has no access group {name!r} "
                                      f"for {product}: the organization's invite cannot grant "
                                      "it; change the connection's invite products")
            groups.append(group.group_id)
        call = products.Call("invite_user", "POST",
                             f"/admin/v2/orgs/{quote(self.org_id, safe='')}/users/invite",
                             json={"emails": [email], "additionalGroups": groups,
                                   "sendNotification": True})
        body = _json(call.operation, self._send(call))
        entry = next((d for d in body.get("data") or [] if isinstance(d, dict)
                      and str(d.get("email", "")).lower() == email.lower() and d.get("id")), None)
        if entry is None:
            raise BadRequestError("invite_user", f"the organization's invite of {email} "
                                  "answered no account", remote_message=str(body)[:200])
        failed = [r for result in entry.get("results") or [] if isinstance(result, dict)
                  for r in result.get("groupAssignmentResult") or []
                  if isinstance(r, dict) and r.get("status") == "ERROR"]
        if failed:
            reason = "; ".join(str(r.get("statusReason") or r.get("group")) for r in failed)
            cls = LicenceExceededError if USER_LIMIT.search(reason) else BadRequestError
            text = LICENCE_HINT if cls is LicenceExceededError else "a group of the invite failed"
            raise cls("invite_user", f"{email} has an account ({entry['id']}) but {text}",
                      status=200, remote_message=reason)
        return AtlassianUser(str(entry["id"]), email, "", True)

    def _path(self, directory_id: str, *parts: str) -> str:
        tail = "/".join(quote(p, safe="") for p in parts)
        return (f"/admin/v2/orgs/{quote(self.org_id, safe='')}/directories/"
                f"{quote(directory_id, safe='')}/{tail}")


def _json(operation: str, response: requests.Response) -> dict[str, Any]:
    body = json_body(operation, response) if response.content else None
    return body if isinstance(body, dict) else {}


def _user_limit(response: requests.Response) -> LicenceExceededError | None:
    """The org API refuses a member beyond the licence with a 400 naming the user limit."""
    if response.status_code != 400 or not USER_LIMIT.search(response.text):
        return None
    return LicenceExceededError("add_member", LICENCE_HINT, status=400,
                                remote_message=response.text[:300])
