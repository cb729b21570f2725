"""Confluence Cloud REST v1 group routes; groups are the site's, shared with Jira."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from .render import confluence_error, confluence_group, confluence_page, confluence_user
from .site import Invalid, LicenceExceeded, Site, SiteError

bp = Blueprint("confluence", __name__, url_prefix="/wiki/rest/api")
PAGE_MAX = 200  # Confluence's documented default and cap for group endpoints


def _site() -> Site:
    return current_app.extensions["atlassian-sandbox"].site


def _base() -> str:
    return request.host_url.rstrip("/")


def _paging() -> tuple[int, int]:
    try:
        start = int(request.args.get("start", 0))
        limit = int(request.args.get("limit", PAGE_MAX))
    except ValueError:
        raise Invalid("start and limit must be integers") from None
    if start < 0 or limit < 0:
        raise Invalid("start and limit must not be negative")
    return start, min(limit, PAGE_MAX)


def _required(name: str) -> str:
    value = request.args.get(name)
    if not value:
        raise Invalid(f"The '{name}' query parameter is required")
    return value


def _account_body() -> str:
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("accountId"), str) \
            or not body["accountId"]:
        raise Invalid("The request body must be {\"accountId\": \"...\"}")
    return body["accountId"]


@bp.errorhandler(SiteError)
def _site_error(exc: SiteError) -> Response:
    if isinstance(exc, LicenceExceeded):
        # Confluence says nothing useful when the licence is full: a bare 500
        return Response("Internal Server Error", status=500, mimetype="text/plain")
    return confluence_error(exc.status, str(exc))


def _page(items: list, render, path: str, args: dict[str, Any]) -> Response:
    start, limit = _paging()
    chunk = items[start:start + limit]
    return jsonify(confluence_page([render(x) for x in chunk], start, limit,
                                   start + limit < len(items), _base(), path, args))


@bp.get("/group")
def groups() -> Response:
    return _page(_site().sorted_groups(), lambda x: confluence_group(x, _base()),
                 "/rest/api/group", {})


@bp.get("/group/by-id")
def group_by_id() -> Response:
    return jsonify(confluence_group(_site().group(_required("id")), _base()))


@bp.get("/group/by-name")
def group_by_name() -> Response:
    return jsonify(confluence_group(_site().group_by_name(_required("name")), _base()))


@bp.get("/group/<group_id>/membersByGroupId")
def members(group_id: str) -> Response:
    start, limit = _paging()
    users, total = _site().member_page(group_id, True, start, limit)
    return jsonify(confluence_page([confluence_user(u) for u in users], start, limit,
                                   start + limit < total, _base(),
                                   f"/rest/api/group/{group_id}/membersByGroupId", {}))


@bp.post("/group")
def create() -> Response:
    body: Any = request.get_json(silent=True)
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise Invalid("The request body must be {\"name\": \"...\"}")
    group = _site().add_group(name)
    return jsonify(confluence_group(group, _base())), 201


@bp.delete("/group")
def delete_by_name() -> Response:
    _site().delete_group(_site().group_by_name(_required("name")).group_id)
    return Response(status=204)


@bp.delete("/group/by-id")
def delete_by_id() -> Response:
    _site().delete_group(_site().group(_required("id")).group_id)
    return Response(status=204)


@bp.post("/group/userByGroupId")
def add_member() -> Response:
    group_id = _required("groupId")
    _site().add_member(_site().group(group_id).group_id, _account_body())
    return Response(status=201)


@bp.delete("/group/userByGroupId")
def remove_member() -> Response:
    group_id = _required("groupId")
    _site().remove_member(_site().group(group_id).group_id, _required("accountId"))
    return Response(status=204)


@bp.get("/user/memberof")
def user_groups() -> Response:
    account_id = _required("accountId")
    return _page(_site().user_groups(account_id), lambda x: confluence_group(x, _base()),
                 "/rest/api/user/memberof", {"accountId": account_id})


# What `expand=operations` lists for an account on a site it may use; administrators also get
# `administer` on the `application` target, which is how an app tells a Confluence admin
# (https://community.developer.atlassian.com/t/how-to-check-if-a-user-can-administer-confluence-in-a-connect-app/29678).
USER_OPERATIONS = (("use", "application"), ("create_space", "application"))
ADMIN_OPERATIONS = (("administer", "application"),)


@bp.get("/user")
def user() -> Response:
    """getUser: one account by accountId; `expand=operations` adds what the account may do."""
    site = _site()
    account = site.user(_required("accountId"))
    body = confluence_user(account)
    expand = {part for value in request.args.getlist("expand") for part in value.split(",")}
    operations = USER_OPERATIONS + (ADMIN_OPERATIONS if site.is_admin(account.account_id) else ())
    if "operations" in expand:
        body["operations"] = [{"operation": op, "targetType": target} for op, target in operations]
    else:
        body["_expandable"] = {"operations": ""}
    return jsonify(body)


@bp.get("/user/current")
def current_user() -> Response:
    """getCurrentUser: the account the request authenticates as."""
    from flask import g

    return jsonify(confluence_user(_site().user(g.principal.account_id)))
