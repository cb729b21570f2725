"""api.atlassian.com and auth.atlassian.com: OAuth endpoints, accessible-resources, org admin."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, redirect, request

from .oauth import OAuthError
from .site import NotFound

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
    user, error = _org_user(org_id, account_id)
    if error:
        return error
    _cloud().site.set_suspended(user.account_id, True)
    return jsonify({"message": f"User {account_id} access suspended"})


@bp.post("/admin/v1/orgs/<org_id>/directory/users/<account_id>/restore-access")
def restore(org_id: str, account_id: str) -> Response:
    user, error = _org_user(org_id, account_id)
    if error:
        return error
    _cloud().site.set_suspended(user.account_id, False)
    return jsonify({"message": f"User {account_id} access restored"})


@bp.delete("/admin/v1/orgs/<org_id>/directory/users/<account_id>")
def remove(org_id: str, account_id: str) -> Response:
    user, error = _org_user(org_id, account_id)
    if error:
        return error
    _cloud().site.remove_access(user.account_id)
    return Response(status=204)
