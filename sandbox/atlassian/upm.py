"""A small Universal Plugin Manager: how a site admin installs a Connect app in development."""

from __future__ import annotations

import secrets
import threading

from flask import Blueprint, Response, current_app, g, jsonify, request

from .installer import InstallError

bp = Blueprint("upm", __name__, url_prefix="/rest/plugins/1.0")
INSTALL_TYPE = "application/vnd.atl.plugins.install.uri+json"


class UpmTokens:
    """Single-use tokens handed out by GET and spent by the install POST (UPM's CSRF guard)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self.tasks: dict[str, dict] = {}

    def issue(self) -> str:
        token = secrets.token_hex(12)
        with self._lock:
            self._tokens.add(token)
        return token

    def spend(self, token: str) -> bool:
        with self._lock:
            if token in self._tokens:
                self._tokens.discard(token)
                return True
            return False


def _cloud():
    return current_app.extensions["atlassian-sandbox"]


@bp.before_request
def _admin_only() -> Response | None:
    """Every UPM call is a site admin's (Basic auth); anyone else gets UPM's 403."""
    principal = g.principal
    if principal.kind != "basic" or not _cloud().site.is_admin(principal.account_id):
        return jsonify({"status-code": 403, "message": "Only site admins manage apps"}), 403
    return None


@bp.get("/")
def plugins() -> Response:
    apps = [{"key": a.key, "enabled": a.enabled, "userInstalled": True}
            for a in _cloud().installations.all()]
    response = jsonify({"plugins": apps})
    response.headers["upm-token"] = _cloud().upm.issue()
    return response


@bp.post("/")
def install() -> Response:
    if not _cloud().upm.spend(request.args.get("token", "")):
        return jsonify({"status-code": 403, "message": "Missing or used upm-token"}), 403
    body = request.get_json(force=True, silent=True)
    if INSTALL_TYPE not in (request.content_type or "") or not isinstance(body, dict) \
            or not isinstance(body.get("pluginUri"), str):
        return jsonify({"status-code": 400, "message": f"POST {INSTALL_TYPE} "
                                                       "{\"pluginUri\": \"…\"}"}), 400
    task_id = secrets.token_hex(6)
    try:
        app = _cloud().installer.install(body["pluginUri"])
        status = {"done": True, "plugin": {"key": app.key, "enabled": app.enabled}}
    except InstallError as exc:
        status = {"done": True, "errorMessage": str(exc)}
    _cloud().upm.tasks[task_id] = status
    return jsonify({"type": "INSTALL", "pingAfter": 100, "status": status,
                    "links": {"self": f"/rest/plugins/1.0/pending/{task_id}"}}), 202


@bp.get("/pending/<task_id>")
def pending(task_id: str) -> Response:
    status = _cloud().upm.tasks.get(task_id)
    if status is None:
        return jsonify({"status-code": 404, "message": "No such task"}), 404
    return jsonify({"type": "INSTALL", "status": status})


@bp.delete("/<key>-key")
def uninstall(key: str) -> Response:
    try:
        _cloud().installer.uninstall(key)
    except InstallError as exc:
        return jsonify({"status-code": 404, "message": str(exc)}), 404
    return Response(status=204)
