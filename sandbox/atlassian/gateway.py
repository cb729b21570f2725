"""api.atlassian.com and auth.atlassian.com: OAuth endpoints, accessible-resources, org admin."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, g, jsonify, redirect, request

from .oauth import OAuthError
from .site import NotFound, SiteUser

bp = Blueprint("gateway", __name__)


def _cloud():
    return current_app.extensions["atlassian-sandbox"]


def _org_error(status: int, title: str, detail: str) -> Response:
    response = jsonify({"errors": [{"status": str(status), "title": title, "detail": detail}]})
    response.status_code = status
    return response


@bp.get("/authorize")
def authorize() -> Response:
    try:
        return redirect(_cloud().oauth.authorize(request.args.to_dict()), code=302)
    except OAuthError as exc:
        return jsonify(exc.body), exc.status


@bp.post("/oauth/token")
def token() -> Response:
    form = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(form, dict):
        return jsonify({"error": "invalid_request",
                        "error_description": "body must be JSON or form-encoded"}), 400
    try:
        return jsonify(_cloud().oauth.token({k: str(v) for k, v in form.items()}))
    except OAuthError as exc:
        return jsonify(exc.body), exc.status


@bp.get("/oauth/token/accessible-resources")
def accessible_resources() -> Response:
    cloud = _cloud()
    scopes = sorted(g.principal.scopes - {"offline_access"})
    return jsonify([{"id": cloud.site.cloud_id, "url": cloud.base_url,
                     "name": cloud.site.name, "scopes": scopes,
                     "avatarUrl": "https://site-admin-avatar-cdn.sandbox.invalid/avatar.png"}])


@bp.get("/_edge/tenant_info")
def tenant_info() -> Response:
    """The site's cloud id, unauthenticated, as every Cloud site answers it on its own host."""
    return jsonify({"cloudId": _cloud().site.cloud_id})


@bp.get("/connect-install-keys/<kid>")
def install_key(kid: str) -> Response:
    pem = _cloud().install_keys.public_pem(kid)
    if pem is None:
        return Response("Not Found", status=404, mimetype="text/plain")
    return Response(pem, mimetype="application/x-pem-file")


def _org_user(org_id: str, account_id: str):
    cloud = _cloud()
    if org_id != cloud.site.org_id:
        return None, _org_error(404, "Not Found", f"Organization {org_id} not found")
    try:
        return cloud.site.user(account_id), None
    except NotFound:
        return None, _org_error(404, "Not Found", f"User {account_id} not found")


@bp.post("/admin/v1/orgs/<org_id>/directory/users/<account_id>/suspend-access")
def suspend(org_id: str, account_id: str) -> Response:
    return _set_suspended(org_id, account_id, True)


@bp.post("/admin/v1/orgs/<org_id>/directory/users/<account_id>/restore-access")
def restore(org_id: str, account_id: str) -> Response:
    return _set_suspended(org_id, account_id, False)


def _set_suspended(org_id: str, account_id: str, suspended: bool) -> Response:
    user, error = _org_user(org_id, account_id)
    if error:
        return error
    _cloud().site.set_suspended(user.account_id, suspended)
    done = "suspended" if suspended else "restored"
    return jsonify({"message": f"User {account_id} access {done}"})


@bp.delete("/admin/v1/orgs/<org_id>/directory/users/<account_id>")
def remove(org_id: str, account_id: str) -> Response:
    user, error = _org_user(org_id, account_id)
    if error:
        return error
    _cloud().site.remove_access(user.account_id)
    return Response(status=204)


# -- organization API v2: directories, exact user search, suspend/restore per directory ----
ORG_SEARCH_LIMIT = 100  # the v2 search pages at most this many users


def _org_v2(org_id: str, directory_id: str | None = None) -> None:
    """The path's organization (and directory: `-` is every one) must be this site's; a 404
    answer ends the request otherwise."""
    site = _cloud().site
    if org_id != site.org_id:
        abort(_org_error(404, "Not Found", f"Organization {org_id} not found"))
    if directory_id is not None and directory_id not in ("-", site.directory_id):
        abort(_org_error(404, "Not Found", f"Directory {directory_id} not found"))


def _page_window(body: dict, default_limit: int) -> tuple[int, int] | Response:
    """(start, limit) of an org search body's cursor and limit, or the 400 answer."""
    limit = body.get("limit", default_limit)
    if not isinstance(limit, int) or not 1 <= limit <= ORG_SEARCH_LIMIT:
        return _org_error(400, "Bad Request", f"limit must be 1 to {ORG_SEARCH_LIMIT}.")
    try:
        return int(body.get("cursor") or 0), limit
    except ValueError:
        return _org_error(400, "Bad Request", "The cursor is not valid.")


def _directory_user(user: SiteUser) -> dict:
    return {"accountId": user.account_id, "accountType": user.account_type,
            "accountStatus": "active" if user.active else "inactive",
            "membershipStatus": "suspended" if user.suspended else "active",
            "name": user.display_name, "email": user.email, "emailVerified": True,
            "claimStatus": "managed"}


@bp.get("/admin/v2/orgs/<org_id>/directories")
def directories(org_id: str) -> Response:
    _org_v2(org_id)
    return jsonify({"data": [{"directoryId": _cloud().site.directory_id, "name": "Users"}],
                    "links": {"self": None, "prev": None, "next": None}})


@bp.post("/admin/v2/orgs/<org_id>/directories/<directory_id>/users/search")
def search_directory_users(org_id: str, directory_id: str) -> Response:
    _org_v2(org_id, directory_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _org_error(400, "Bad Request", "The request body must be a JSON object.")
    if body.get("emails") and body.get("searchTerm"):
        return _org_error(400, "Bad Request", "searchTerm and emails are mutually exclusive.")
    emails, account_ids = body.get("emails") or [], body.get("accountIds") or []
    group_ids = body.get("groupIds") or []
    if not all(isinstance(x, list) for x in (emails, account_ids, group_ids)) or not all(
            isinstance(x, str) for x in [*emails, *account_ids, *group_ids]):
        return _org_error(400, "Bad Request",
                          "emails, accountIds and groupIds must be lists of strings.")
    window = _page_window(body, ORG_SEARCH_LIMIT)
    if isinstance(window, Response):
        return window
    start, limit = window
    site = _cloud().site
    unknown = [g for g in group_ids if g not in site.groups]
    if unknown:
        return _org_error(404, "Not Found", f"Group {unknown[0]} not found")
    found = [_directory_user(u) for u in site.org_search(emails, account_ids, group_ids)]
    for key, field in (("accountStatus", "accountStatus"),
                       ("membershipStatus", "membershipStatus")):
        if body.get(key):
            found = [u for u in found if u[field] in body[key]]
    page = found[start:start + limit]
    more = start + limit < len(found)
    return jsonify({"data": page, "links": {"self": str(start), "prev": None,
                                            "next": str(start + limit) if more else None}})


def _directory_member(org_id: str, directory_id: str, account_id: str):
    _org_v2(org_id, directory_id)
    if directory_id == "-":
        return None, _org_error(400, "Bad Request", "Name the directory to change a user in.")
    try:
        return _cloud().site.user(account_id), None
    except NotFound:
        return None, _org_error(404, "Not Found", f"User {account_id} not found")


@bp.post("/admin/v2/orgs/<org_id>/directories/<directory_id>/users/<account_id>/"
         "<any(suspend, restore):action>")
def suspend_or_restore_v2(org_id: str, directory_id: str, account_id: str,
                          action: str) -> Response:
    user, error = _directory_member(org_id, directory_id, account_id)
    if error:
        return error
    _cloud().site.set_suspended(user.account_id, action == "suspend")
    return Response(status=204)


@bp.post("/admin/v2/orgs/<org_id>/directories/<directory_id>/groups/search")
def search_directory_groups(org_id: str, directory_id: str) -> Response:
    """Groups by exact ids or names (case-insensitive), with their management flags."""
    _org_v2(org_id, directory_id)
    body = request.get_json(silent=True)
    body = {} if body is None else body
    if not isinstance(body, dict):
        return _org_error(400, "Bad Request", "The request body must be a JSON object.")
    ids, names = body.get("groupIds") or [], body.get("groupNames") or []
    if names and (ids or body.get("searchTerm")):
        return _org_error(400, "Bad Request",
                          "groupNames is mutually exclusive with groupIds and searchTerm.")
    if not all(isinstance(x, str) for x in [*ids, *names]):
        return _org_error(400, "Bad Request", "groupIds and groupNames must be lists of strings.")
    window = _page_window(body, 20)
    if isinstance(window, Response):
        return window
    start, limit = window
    site = _cloud().site
    groups = site.find_groups(ids, names) if ids or names else site.sorted_groups()
    data = [{"id": g.group_id, "name": g.name, "directoryId": site.directory_id,
             "externalSynced": g.external_synced,
             "managedBy": "external" if g.external_synced else "admins",
             "managementAccess": {"deletable": not g.external_synced,
                                  "modifiable": not g.external_synced, "readable": True}}
            for g in groups[start:start + limit]]
    more = start + limit < len(groups)
    return jsonify({"data": data, "links": {"self": str(start), "prev": None,
                                            "next": str(start + limit) if more else None}})
