"""Jira REST v3 and Confluence v1 as data: the request for each operation and how to read its answer.

Pure functions and constants only; `site.AtlassianSite` sends them through the transport.
Each call names the atlassian-python-api method that makes it (`invoke`), or none where the
library has no method for the endpoint or one that is wrong for Cloud: then the library's
generic request sends our method and path (the reason is beside each such call).
User lookup by e-mail, invitations and the admin check are the site's platform user
endpoints (`/rest/api/3/...`): Confluence v1 has no e-mail search, no invite and no
global-permission check of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from workers.atlassian.target import AtlassianGroup, AtlassianUser

# How the products and the org API word an idempotent outcome ("already a member", ...)
ALREADY_MEMBER = re.compile(r"already (a )?member", re.IGNORECASE)
NOT_MEMBER = re.compile(r"not (a )?member", re.IGNORECASE)
GROUP_EXISTS = re.compile(r"already exists|duplicate", re.IGNORECASE)
JIRA_PAGE = 50  # group/bulk and group/member cap maxResults at 50
CONFLUENCE_PAGE = 200  # Confluence's documented default and cap for group lists


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request, relative to the site (or gateway) base URL; `api` is the library
    client that sends it (jira, confluence, org) and `invoke` its method for this request."""

    operation: str
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    api: str = "jira"
    invoke: Callable[[Any], Any] | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    next_start: int | None  # None when this was the last page


def jira_user(body: dict[str, Any]) -> AtlassianUser:
    return AtlassianUser(str(body["accountId"]), body.get("emailAddress") or None,
                         body.get("displayName") or "", bool(body.get("active", True)),
                         body.get("accountType") or "atlassian")


def confluence_user(body: dict[str, Any]) -> AtlassianUser:
    status = body.get("accountStatus")
    return AtlassianUser(str(body["accountId"]), body.get("email") or None,
                         body.get("displayName") or body.get("publicName") or "",
                         status in (None, "active"), body.get("accountType") or "atlassian")


def jira_group(body: dict[str, Any]) -> AtlassianGroup:
    return AtlassianGroup(str(body["groupId"]), str(body["name"]))


def confluence_group(body: dict[str, Any]) -> AtlassianGroup:
    return AtlassianGroup(str(body["id"]), str(body["name"]))


class Jira:
    """Jira Cloud platform REST v3."""

    name = "jira"

    def groups(self, start: int) -> Call:
        return Call("list_groups", "GET", "/rest/api/3/group/bulk",
                    {"startAt": start, "maxResults": JIRA_PAGE},
                    invoke=lambda jira: jira.bulk_get_groups(start_at=start, max_results=JIRA_PAGE))

    def groups_filtered(self, ids: list[str], names: list[str], start: int) -> Call:
        """group/bulk narrowed to these groupIds and names (both repeatable; unknown ones are
        left out of the answer), so a run reads the groups it manages, not the whole site."""
        params: dict[str, Any] = {"startAt": start, "maxResults": JIRA_PAGE}
        if ids:
            params["groupId"] = ids
        if names:
            params["groupName"] = names
        return Call("list_groups", "GET", "/rest/api/3/group/bulk", params,
                    invoke=lambda jira: jira.bulk_get_groups(
                        start_at=start, max_results=JIRA_PAGE, group_id=ids or None,
                        group_name=names or None))

    def members(self, group_id: str, start: int) -> Call:
        return Call("group_members", "GET", "/rest/api/3/group/member",
                    {"groupId": group_id, "includeInactiveUsers": "true", "startAt": start,
                     "maxResults": JIRA_PAGE},
                    invoke=lambda jira: jira.get_users_from_group(
                        group_id=group_id, include_inactive_users="true", start_at=start,
                        max_results=JIRA_PAGE))

    def user_groups(self, account_id: str, start: int) -> Call:
        return Call("user_groups", "GET", "/rest/api/3/user/groups", {"accountId": account_id},
                    invoke=lambda jira: jira.get_user_groups(account_id=account_id))

    def group_by_name(self, name: str) -> Call:
        return Call("create_group", "GET", "/rest/api/3/group/bulk",
                    {"groupName": name, "maxResults": JIRA_PAGE},
                    invoke=lambda jira: jira.bulk_get_groups(group_name=name,
                                                             max_results=JIRA_PAGE))

    def create_group(self, name: str) -> Call:
        return Call("create_group", "POST", "/rest/api/3/group", json={"name": name},
                    invoke=lambda jira: jira.create_group(data={"name": name}))

    def add_member(self, group_id: str, account_id: str) -> Call:
        return Call("add_member", "POST", "/rest/api/3/group/user", {"groupId": group_id},
                    {"accountId": account_id},
                    invoke=lambda jira: jira.add_user_to_group(
                        group_id=group_id, data={"accountId": account_id}))

    def remove_member(self, group_id: str, account_id: str) -> Call:
        return Call("remove_member", "DELETE", "/rest/api/3/group/user",
                    {"groupId": group_id, "accountId": account_id},
                    invoke=lambda jira: jira.remove_user_from_group(group_id=group_id,
                                                                    account_id=account_id))

    def current_user(self) -> Call:
        return Call("check_write_credential", "GET", "/rest/api/3/myself",
                    invoke=lambda jira: jira.get_current_user())

    @staticmethod
    def page(body: Any, start: int, parse: Any) -> Page:
        if isinstance(body, list):  # user/groups answers a bare list
            return Page([parse(x) for x in body], None)
        values = body.get("values") or []
        done = body.get("isLast", True) or not values
        return Page([parse(x) for x in values], None if done else start + len(values))

    parse_group = staticmethod(jira_group)
    parse_user = staticmethod(jira_user)

    def group_from_lookup(self, body: Any) -> AtlassianGroup | None:
        values = body.get("values") or [] if isinstance(body, dict) else []
        return jira_group(values[0]) if values else None


class Confluence:
    """Confluence Cloud REST v1 (v2 has no group endpoints).

    The library's ConfluenceCloud reads groups and members by id; it has no Cloud methods
    for group writes, memberships by id, `memberof` or the current user (its
    `get_current_user` asks v2, which has no such resource), so those are generic requests.
    """

    name = "confluence"

    def groups(self, start: int) -> Call:
        return Call("list_groups", "GET", "/wiki/rest/api/group",
                    {"start": start, "limit": CONFLUENCE_PAGE}, api="confluence",
                    invoke=lambda wiki: wiki.get_groups(start=start, limit=CONFLUENCE_PAGE))

    def members(self, group_id: str, start: int) -> Call:
        return Call("group_members", "GET",
                    f"/wiki/rest/api/group/{quote(group_id, safe='')}/membersByGroupId",
                    {"start": start, "limit": CONFLUENCE_PAGE}, api="confluence",
                    invoke=lambda wiki: wiki.get_group_members(group_id, start=start,
                                                               limit=CONFLUENCE_PAGE))

    def user_groups(self, account_id: str, start: int) -> Call:
        return Call("user_groups", "GET", "/wiki/rest/api/user/memberof",
                    {"accountId": account_id, "start": start, "limit": CONFLUENCE_PAGE},
                    api="confluence")

    def group_by_name(self, name: str) -> Call:
        return Call("create_group", "GET", "/wiki/rest/api/group/by-name", {"name": name},
                    api="confluence")

    def create_group(self, name: str) -> Call:
        return Call("create_group", "POST", "/wiki/rest/api/group", json={"name": name},
                    api="confluence")

    def add_member(self, group_id: str, account_id: str) -> Call:
        return Call("add_member", "POST", "/wiki/rest/api/group/userByGroupId",
                    {"groupId": group_id}, {"accountId": account_id}, api="confluence")

    def remove_member(self, group_id: str, account_id: str) -> Call:
        return Call("remove_member", "DELETE", "/wiki/rest/api/group/userByGroupId",
                    {"groupId": group_id, "accountId": account_id}, api="confluence")

    def current_user(self) -> Call:
        return Call("check_write_credential", "GET", "/wiki/rest/api/user/current",
                    api="confluence")

    @staticmethod
    def page(body: Any, start: int, parse: Any) -> Page:
        results = body.get("results") or []
        more = bool((body.get("_links") or {}).get("next")) and bool(results)
        return Page([parse(x) for x in results], start + len(results) if more else None)

    parse_group = staticmethod(confluence_group)
    parse_user = staticmethod(confluence_user)

    def group_from_lookup(self, body: Any) -> AtlassianGroup | None:
        return confluence_group(body) if isinstance(body, dict) and body.get("id") else None


PRODUCTS: dict[str, Jira | Confluence] = {"jira": Jira(), "confluence": Confluence()}


# -- the site's platform user endpoints (both flavours) ------------------------------------
def find_user(email: str) -> Call:
    return Call("find_user_by_email", "GET", "/rest/api/3/user/search",
                {"query": email, "maxResults": 10},
                invoke=lambda jira: jira.find_users(query=email, max_results=10))


def pick_user(body: Any, email: str) -> AtlassianUser | None:
    """The account whose e-mail is exactly this one, or None.

    Atlassian's search also matches prefixes of names and addresses, and leaves out the
    address of people who hide it: a lone result without an address may be someone else
    (bob@example.com.au for bob@example.com), so it is never taken. Such a person is found
    exactly by the organization API's search, or by the invite, which answers with the
    existing account of that address.
    """
    users = [jira_user(x) for x in body or [] if isinstance(x, dict) and x.get("accountId")]
    return next((u for u in users if u.email and u.email.lower() == email.lower()), None)


def invite(email: str, display_name: str, products: list[str]) -> Call:
    body: dict[str, Any] = {"emailAddress": email, "products": list(products)}
    if display_name:
        body["displayName"] = display_name  # ignored for existing accounts, used in the invite
    return Call("invite_user", "POST", "/rest/api/3/user", json=body,
                invoke=lambda jira: jira.create_user(data=body))


def admin_check(account_id: str) -> Call:
    body = {"accountId": account_id, "globalPermissions": ["ADMINISTER"]}
    return Call("is_site_admin", "POST", "/rest/api/3/permissions/check", json=body,
                invoke=lambda jira: jira.get_bulk_permissions(data=body))


def confluence_admin_check(account_id: str) -> Call:
    """Confluence's own administrator check: the account's operations on the application."""
    # the library's get_user(user_id) asks v2 by path, which has no `operations`
    return Call("is_confluence_admin", "GET", "/wiki/rest/api/user",
                params={"accountId": account_id, "expand": "operations"}, api="confluence")


def grants_confluence_admin(body: dict[str, Any]) -> bool:
    return any(isinstance(op, dict) and op.get("operation") == "administer"
               and op.get("targetType") == "application" for op in body.get("operations") or [])


def org_directories(org_id: str) -> Call:
    """The organization API v2's directories (suspend and restore are per directory)."""
    return Call("org_directories", "GET", f"/admin/v2/orgs/{quote(org_id, safe='')}/directories",
                api="org", invoke=lambda admin: admin.get_directories(quote(org_id, safe="")))


def org_find_user(org_id: str, email: str) -> Call:
    """The organization API v2's exact e-mail search over every directory (`-`): it finds
    suspended and inactive accounts and those whose owners hide their address."""
    body = {"emails": [email], "limit": 10}
    return Call("org_find_user", "POST",
                f"/admin/v2/orgs/{quote(org_id, safe='')}/directories/-/users/search",
                json=body, api="org", invoke=lambda admin: admin.search_directory_users(
                    quote(org_id, safe=""), "-", data=body))


def org_pick_user(body: Any, email: str) -> AtlassianUser | None:
    data = body.get("data") if isinstance(body, dict) else None
    for item in data or []:
        if isinstance(item, dict) and item.get("accountId") and \
                str(item.get("email") or "").lower() == email.lower():
            active = item.get("accountStatus", "active") == "active" and \
                item.get("membershipStatus", "active") == "active"
            return AtlassianUser(str(item["accountId"]), str(item["email"]),
                                 str(item.get("name") or ""), active,
                                 str(item.get("accountType") or "atlassian"))
    return None


def org_user(org_id: str, directory_id: str, account_id: str, action: str) -> Call:
    """suspend / restore of one account in one directory (organization API v2; the
    library's CloudAdmin has only the v1 managed-account deactivation, which is not this)."""
    return Call(f"{action}_access", "POST",
                f"/admin/v2/orgs/{quote(org_id, safe='')}/directories/"
                f"{quote(directory_id, safe='')}/users/{quote(account_id, safe='')}/{action}", api="org")


ORG_GROUP_PAGE = 100


def org_find_groups(org_id: str, *, ids: list[str] | None = None,
                    names: list[str] | None = None, cursor: str | None = None) -> Call:
    """The organization API v2's group search by exact ids or names (mutually exclusive)."""
    body: dict[str, Any] = {"limit": ORG_GROUP_PAGE}
    if ids:
        body["groupIds"] = ids
    if names:
        body["groupNames"] = names
    if cursor:
        body["cursor"] = cursor
    return Call("org_find_groups", "POST",
                f"/admin/v2/orgs/{quote(org_id, safe='')}/directories/-/groups/search", json=body,
                api="org", invoke=lambda admin: admin.search_directory_groups(
                    quote(org_id, safe=""), "-", data=body))


def org_synced(item: Any) -> bool:
    """Whether an org API group is owned by Atlassian's IdP provisioning (read-only to us)."""
    if not isinstance(item, dict):
        return False
    access = item.get("managementAccess") if isinstance(item.get("managementAccess"), dict) else {}
    return bool(item.get("externalSynced")) or str(item.get("managedBy", "")).lower() == \
        "external" or access.get("modifiable") is False
