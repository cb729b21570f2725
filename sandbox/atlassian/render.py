"""JSON shapes of users, groups, pages and errors as Jira and Confluence write them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, jsonify

from .site import SiteGroup, SiteUser

AVATAR = "https://avatar-management.sandbox.invalid/default/48"


def jira_error(status: int, *messages: str, errors: dict[str, str] | None = None) -> Response:
    response = jsonify({"errorMessages": list(messages), "errors": errors or {}})
    response.status_code = status
    return response


def confluence_error(status: int, message: str) -> Response:
    response = jsonify({"statusCode": status, "message": message,
                        "data": {"authorized": status not in (401, 403), "valid": status != 400,
                                 "errors": [], "successful": False}})
    response.status_code = status
    return response


def jira_user(user: SiteUser, base_url: str) -> dict[str, Any]:
    body = {"self": f"{base_url}/rest/api/3/user?accountId={user.account_id}",
            "accountId": user.account_id, "accountType": user.account_type,
            "emailAddress": user.email, "displayName": user.display_name,
            "active": user.is_active, "timeZone": "Etc/UTC",
            "avatarUrls": {k: AVATAR for k in ("16x16", "24x24", "32x32", "48x48")}}
    if user.email_hidden or not user.email:
        del body["emailAddress"]
    return body


def jira_group(group: SiteGroup, base_url: str | None = None) -> dict[str, Any]:
    body = {"name": group.name, "groupId": group.group_id}
    if base_url:
        body["self"] = f"{base_url}/rest/api/3/group?groupId={group.group_id}"
    return body


def jira_page(values: list[Any], start_at: int, max_results: int, total: int,
              url: str, args: dict[str, Any]) -> dict[str, Any]:
    """Jira's PageBean: startAt, maxResults, total, isLast, values, self and nextPage."""
    is_last = start_at + len(values) >= total
    body = {"self": f"{url}?{urlencode({**args, 'startAt': start_at}, doseq=True)}",
            "maxResults": max_results, "startAt": start_at, "total": total,
            "isLast": is_last, "values": values}
    if not is_last:
        following = urlencode({**args, "startAt": start_at + max_results}, doseq=True)
        body["nextPage"] = f"{url}?{following}"
    return body


def confluence_user(user: SiteUser) -> dict[str, Any]:
    # Confluence's accountType enum has no "customer"; it answers "" for those accounts
    account_type = user.account_type if user.account_type in ("atlassian", "app") else ""
    return {"type": "known", "accountId": user.account_id, "accountType": account_type,
            "email": "" if user.email_hidden else user.email, "publicName": user.display_name,
            "displayName": user.display_name, "isExternalCollaborator": False,
            "accountStatus": "active" if user.is_active else "inactive"}


def confluence_group(group: SiteGroup, base_url: str) -> dict[str, Any]:
    return {"type": "group", "name": group.name, "id": group.group_id,
            "_links": {"self": f"{base_url}/wiki/rest/api/group/by-id?id={group.group_id}"}}


def confluence_page(results: list[Any], start: int, limit: int, has_more: bool,
                    base_url: str, path: str, args: dict[str, Any]) -> dict[str, Any]:
    """Confluence's array page: results, start, limit, size and _links.next when more."""
    links: dict[str, str] = {"base": f"{base_url}/wiki", "context": "/wiki",
                             "self": f"{base_url}/wiki{path}"}
    if has_more:
        links["next"] = f"{path}?{urlencode({**args, 'start': start + limit, 'limit': limit})}"
    return {"results": results, "start": start, "limit": limit, "size": len(results),
            "_links": links}
