"""Jira Cloud REST v3 user and group routes over the shared site state."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from .render import jira_error, jira_group, jira_page, jira_user
from .site import (
    JIRA_PRODUCTS,
    Invalid,
    LicenceExceeded,
    NotFound,
    Site,
    SiteError,
    SiteGroup,
)

bp = Blueprint("jira", __name__, url_prefix="/rest/api/3")
MEMBER_PAGE_MAX = 50  # Jira caps group member pages at 50 whatever maxResults asks
GROUP_PAGE_MAX = 50
USERS_PAGE_MAX = 1000


def _site() -> Site:
    return current_app.extensions["atlassian-sandbox"].site


def _base() -> str:
    return request.host_url.rstrip("/")


def _int_arg(name: str, default: int, minimum: int = 0) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"The value '{raw}' is invalid for {name}.") from None
    if value < minimum:
        raise Invalid(f"'{name}' must be at least {minimum}.")
    return value


def _bool_arg(name: str) -> bool:
    return request.args.get(name, "false").lower() == "true"


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    return body


@bp.errorhandler(SiteError)
def _site_error(exc: SiteError) -> Response:
    if isinstance(exc, LicenceExceeded):
        # membership and invite writes answer in the identity platform's error shape
        response = jsonify({"key": "licenceExceeded", "context": {"message": str(exc)}})
        response.status_code = exc.status
        return response
    return jira_error(exc.status, str(exc))


def _group_from_args(id_arg: str = "groupId", name_arg: str = "groupname") -> SiteGroup:
    if request.args.get(id_arg):
        return _site().group(request.args[id_arg])
    if request.args.get(name_arg):
        return _site().group_by_name(request.args[name_arg])
    raise Invalid("You must specify a group name or group ID.")


@bp.get("/group/bulk")
def group_bulk() -> Response:
    start_at = _int_arg("startAt", 0)
    max_results = min(_int_arg("maxResults", GROUP_PAGE_MAX, 1), GROUP_PAGE_MAX)
    ids, names = request.args.getlist("groupId"), request.args.getlist("groupName")
    site = _site()
    if ids or names:
        groups = sorted({x.group_id: x for x in site.find_groups(ids, names)}.values(),
                        key=lambda x: x.name.lower())
    else:
        groups = site.sorted_groups()
    values = [jira_group(x) for x in groups[start_at:start_at + max_results]]
    args = {k: request.args.getlist(k) for k in request.args if k != "startAt"}
    args["maxResults"] = max_results
    return jsonify(jira_page(values, start_at, max_results, len(groups),
                             f"{_base()}/rest/api/3/group/bulk", args))


@bp.get("/group/member")
def group_member() -> Response:
    group = _group_from_args()
    start_at = _int_arg("startAt", 0)
    max_results = min(_int_arg("maxResults", MEMBER_PAGE_MAX, 1), MEMBER_PAGE_MAX)
    page, total = _site().member_page(group.group_id, _bool_arg("includeInactiveUsers"),
                                      start_at, max_results)
    values = [jira_user(u, _base()) for u in page]
    args = {"groupId": group.group_id, "maxResults": max_results,
            "includeInactiveUsers": str(_bool_arg("includeInactiveUsers")).lower()}
    return jsonify(jira_page(values, start_at, max_results, total,
                             f"{_base()}/rest/api/3/group/member", args))


@bp.get("/group")
def group_get() -> Response:
    group = _group_from_args()
    return jsonify({**jira_group(group, _base()), "expand": "users"})


@bp.post("/group")
def group_create() -> Response:
    name = _json_body().get("name")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("You must specify a group name.")
    group = _site().add_group(name)
    return jsonify({**jira_group(group, _base()), "expand": "users"}), 201


@bp.delete("/group")
def group_delete() -> Response:
    group = _group_from_args()
    swap = request.args.get("swapGroupId")
    if not swap and request.args.get("swapGroup"):
        swap = _site().group_by_name(request.args["swapGroup"]).group_id
    _site().delete_group(group.group_id, swap)
    return Response(status=200)


@bp.post("/group/user")
def group_add_user() -> Response:
    group = _group_from_args()
    account_id = _json_body().get("accountId")
    if not isinstance(account_id, str) or not account_id:
        raise Invalid("You must specify the accountId of the user to add.")
    _site().add_member(group.group_id, account_id)
    return jsonify({**jira_group(group, _base()), "expand": "users"}), 201


@bp.delete("/group/user")
def group_remove_user() -> Response:
    group = _group_from_args()
    account_id = request.args.get("accountId")
    if not account_id:
        raise Invalid("You must specify the accountId of the user to remove.")
    _site().remove_member(group.group_id, account_id)
    return Response(status=200)


@bp.get("/user/search")
def user_search() -> Response:
    start_at = _int_arg("startAt", 0)
    max_results = min(_int_arg("maxResults", 50, 1), 1000)
    site = _site()
    if request.args.get("accountId"):
        users = [u for u in [site.users.get(request.args["accountId"])] if u]
    elif request.args.get("query") is not None:
        users = site.search_users(request.args["query"])
    else:
        raise Invalid("One of 'query' or 'accountId' query parameters must be provided.")
    return jsonify([jira_user(u, _base()) for u in users[start_at:start_at + max_results]])


@bp.get("/users/search")
@bp.get("/users")
def users_all() -> Response:
    """Every account on the site, active or not, a page at a time (a bare JSON array)."""
    start_at = _int_arg("startAt", 0)
    max_results = min(_int_arg("maxResults", 50, 1), USERS_PAGE_MAX)
    page = _site().user_page(start_at, max_results)
    return jsonify([jira_user(u, _base()) for u in page])


@bp.get("/user/groups")
def user_groups() -> Response:
    account_id = request.args.get("accountId")
    if not account_id:
        raise Invalid("The accountId query parameter is required.")
    return jsonify([jira_group(x, _base()) for x in _site().user_groups(account_id)])


@bp.get("/user/bulk")
def user_bulk() -> Response:
    ids = request.args.getlist("accountId")
    if not ids:
        raise Invalid("At least one accountId is required.")
    start_at = _int_arg("startAt", 0)
    max_results = min(_int_arg("maxResults", 10, 1), 200)
    users = [u for u in (_site().users.get(a) for a in dict.fromkeys(ids)) if u]
    values = [jira_user(u, _base()) for u in users[start_at:start_at + max_results]]
    args = {"accountId": ids, "maxResults": max_results}
    return jsonify(jira_page(values, start_at, max_results, len(users),
                             f"{_base()}/rest/api/3/user/bulk", args))


@bp.get("/user")
def user_get() -> Response:
    account_id = request.args.get("accountId")
    if not account_id:
        raise Invalid("The accountId query parameter is required.")
    return jsonify(jira_user(_site().user(account_id), _base()))


@bp.post("/user")
def user_invite() -> Response:
    """Invite (legacy "create user"), as the v3 spec and Atlassian's 2024 change describe it.

    `products` is required (an empty list is allowed) and takes only the Jira product keys;
    an existing account with Jira access is answered 201, one without Jira access is refused
    with 400 unless the call grants it a product; an invite by an account that is not a site
    admin creates the account suspended, as Atlassian's user management does.
    """
    body = _json_body()
    email = body.get("emailAddress")
    if not isinstance(email, str) or "@" not in email:
        raise Invalid("emailAddress is required and must be an e-mail address.",)
    products = body.get("products")
    if not isinstance(products, list) or any(p not in JIRA_PRODUCTS for p in products):
        raise Invalid(f"products must be a list of {', '.join(JIRA_PRODUCTS)}.")
    site = _site()
    unlicensed = sorted(set(products) - site.licensed_products)
    if unlicensed:
        raise Invalid(f"This site has no licence for {', '.join(unlicensed)}.")
    existing = site.user_by_email(email)
    if existing is not None:
        if not products and not site.has_jira_access(existing.account_id):
            raise Invalid(f"The user with email address '{email}' exists but does not have "
                          "access to Jira.")
        site.grant_products(existing.account_id, products)
        return jsonify(jira_user(existing, _base())), 201
    user = site.add_user(email, body.get("displayName") or "", products=())
    site.grant_products(user.account_id, products)
    if not site.is_site_admin(g.principal.account_id):
        site.set_suspended(user.account_id, True)
    cloud = current_app.extensions["atlassian-sandbox"]
    if cloud.auto_webhooks:
        cloud.installer.send_webhook_later("user_created", user)
    return jsonify(jira_user(user, _base())), 201


@bp.post("/permissions/check")
def permissions_check() -> Response:
    body = _json_body()
    unknown = set(body) - {"accountId", "globalPermissions", "projectPermissions"}
    if unknown:  # the request schema allows no other property
        raise Invalid(f"Unrecognized field(s): {', '.join(sorted(unknown))}")
    wanted = body.get("globalPermissions") or []
    if not isinstance(wanted, list) or not all(isinstance(p, str | None) for p in wanted):
        raise Invalid("globalPermissions must be a list of permission keys.")
    site = _site()
    principal = g.principal
    account_id = body.get("accountId") or principal.account_id
    if account_id is None:
        raise Invalid("accountId is required when the caller is not a user.")
    # Another user's permissions need Administer Jira, except for a Connect app's own JWT.
    if (account_id != principal.account_id and principal.kind != "jwt"
            and not (principal.account_id and site.is_admin(principal.account_id))):
        return jira_error(403, "You do not have permission to view other users' permissions.")
    try:
        held = site.global_permissions(account_id)
    except NotFound as exc:
        return jira_error(400, str(exc))
    # Null values are ignored (the spec); keys that grant nothing are left out of the answer.
    granted = [p for p in dict.fromkeys(wanted) if p is not None and p in held]
    return jsonify({"globalPermissions": granted, "projectPermissions": []})


@bp.get("/myself")
def myself() -> Response:
    return jsonify(jira_user(_site().user(g.principal.account_id), _base()))
