"""Forge apps installed on the sandbox site: their app accounts, and the app system tokens the
site accepts on api.atlassian.com for reads and refuses for group writes, as Cloud does.

A Forge invoker registers an installation (site-admin Basic, like any app install) with the
URL of its JWKS; system tokens are RS256 JWTs it signs with `iss` SYSTEM_TOKEN_ISSUER, checked
here against that JWKS, the site's cloud id, the registered installation and `exp`.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

import jwt
import requests
from flask import Blueprint, Response, current_app, g, jsonify, request

from .auth import Denied, Principal, _oauth_scope, signed_claims
from .clock import Clock
from .site import Site
from .spec import Operation

SYSTEM_TOKEN_ISSUER = "forge/app-system-token"
USER_TOKEN_ISSUER = "forge/app-user-token"
"""`x-forge-oauth-user`: the app acting as the user of a UI call, with that user's permissions."""
WRITE_REFUSAL = ("The app user does not have the relevant permissions: Forge apps' own "
                 "tokens may not administer groups or users unless the app account is a "
                 "site admin; use a site admin's credential.")
bp = Blueprint("forge_apps", __name__, url_prefix="/_sandbox/forge")


@dataclass
class ForgeApp:
    installation_id: str
    app_id: str
    account_id: str
    scopes: frozenset[str]
    jwks_url: str


class ForgeApps:
    """Registered Forge installations and a key cache of their invokers' JWKS."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self._apps: dict[str, ForgeApp] = {}
        self._keys: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def register(self, installation_id: str, app_id: str, name: str, scopes: list[str],
                 jwks_url: str) -> ForgeApp:
        with self._lock:
            previous = self._apps.get(installation_id)
            account = previous.account_id if previous else self.site.add_user(
                "", name[:100] or "Forge app", account_type="app").account_id
            app = ForgeApp(installation_id, app_id, account, frozenset(scopes), jwks_url)
            self._apps[installation_id] = app
            return app

    def remove(self, installation_id: str) -> bool:
        with self._lock:
            return self._apps.pop(installation_id, None) is not None

    def principal(self, token: str, clock: Clock) -> Principal | None:
        """The Forge app behind a system token; None when `token` is not one (try OAuth)."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        issuer = unverified.get("iss")
        if issuer not in (SYSTEM_TOKEN_ISSUER, USER_TOKEN_ISSUER):
            return None
        app_claim = unverified.get("app") if isinstance(unverified.get("app"), dict) else {}
        app = self._apps.get(str(app_claim.get("installationId", "")))
        if app is None:
            raise Denied(401, "Unauthorized; the app is not installed on this site")
        if header.get("alg") != "RS256":
            raise Denied(401, "Unauthorized; the app system token must be RS256")
        key = self._key(app.jwks_url, str(header.get("kid", "")))
        claims = signed_claims(token, key, "RS256", clock, issuer=issuer,
                               invalid="Unauthorized; the app system token is invalid",
                               expired="Unauthorized; the app system token has expired")
        if claims.get("cloudId") != self.site.cloud_id:
            raise Denied(401, "Unauthorized; the app system token is for another site")
        if issuer == USER_TOKEN_ISSUER:
            user = self.site.users.get(str(claims.get("sub", "")))
            if user is None or not user.is_active:
                raise Denied(401, "Unauthorized; the user behind this token has no access")
            return Principal("forge-user", f"forge-user:{app.installation_id}:{user.account_id}",
                             user.account_id, app.scopes, app.app_id)
        if claims.get("sub") != app.account_id:
            raise Denied(401, "Unauthorized; the app system token names another account")
        return Principal("forge", f"forge:{app.installation_id}", app.account_id, app.scopes,
                         app.app_id)

    def _key(self, jwks_url: str, kid: str) -> object:
        cached = self._keys.get((jwks_url, kid))
        if cached is not None:
            return cached
        try:
            body = requests.get(jwks_url, timeout=5).json()
        except (requests.RequestException, ValueError) as exc:
            raise Denied(401, f"Unauthorized; the app's signing keys are unreachable: {exc}") from exc
        for entry in body.get("keys", []) if isinstance(body, dict) else []:
            if entry.get("kid") == kid:
                key = jwt.PyJWK(entry, algorithm="RS256").key
                self._keys[(jwks_url, kid)] = key
                return key
        raise Denied(401, "Unauthorized; the app system token's key is unknown")


def authorize_forge(principal: Principal, op: Operation, site: Site) -> None:
    """The app's scopes decide its reads; writes that need site administration are refused
    unless someone made the app account a site admin (Atlassian staff, developer community
    thread 92540)."""
    _oauth_scope(principal, op)
    if op.method != "get" and op.connect_scope in ("ADMIN", "INACCESSIBLE") and \
            not site.is_admin(principal.account_id):
        raise Denied(403, WRITE_REFUSAL)


def _apps() -> ForgeApps:
    return current_app.extensions["atlassian-sandbox"].forge_apps


def _site_admin() -> Response | None:
    principal = g.principal
    if principal.kind != "basic" or not _apps().site.is_admin(principal.account_id):
        response = jsonify({"message": "Only a site admin may install or remove apps"})
        response.status_code = 403
        return response
    return None


@bp.post("/installations")
def install() -> Response:
    refused = _site_admin()
    if refused is not None:
        return refused
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body[k]
                                             for k in ("appId", "jwksUrl")):
        return jsonify({"message": "appId and jwksUrl are required"}), 400
    scopes = body.get("scopes") or []
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        return jsonify({"message": "scopes must be a list of strings"}), 400
    installation_id = body.get("installationId") or f"ari:cloud:ecosystem::installation/{uuid.uuid4()}"
    app = _apps().register(str(installation_id), body["appId"], str(body.get("name") or ""),
                           scopes, body["jwksUrl"])
    return jsonify({"installationId": app.installation_id, "accountId": app.account_id,
                    "cloudId": _apps().site.cloud_id}), 201


@bp.delete("/installations/<path:installation_id>")
def uninstall(installation_id: str) -> Response:
    refused = _site_admin()
    if refused is not None:
        return refused
    if not _apps().remove(installation_id):
        return jsonify({"message": "no such installation"}), 404
    return Response(status=204)
