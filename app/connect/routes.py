"""HTTP routes of the Connect front door."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy.exc import IntegrityError

from app import extensions, logs
from app.connect import descriptor, install_keys, replay, tenancy
from app.connect.auth import connect_jwt, incoming, rejected
from app.connect.verify import (
    JWTRejected,
    extract_token,
    lifecycle_payload,
    verify_request,
    verify_signed_install,
)
from app.webhooks import accounts

log = logging.getLogger(__name__)
bp = Blueprint("connect", __name__)
LIFECYCLE_EVENTS = ("installed", "enabled", "disabled", "uninstalled")
WEBHOOK_EVENTS = ("user_created", "user_updated", "user_deleted")


@bp.get("/atlassian-connect.json")
def connect_descriptor():  # type: ignore[no-untyped-def]
    cfg = current_app.config
    response = jsonify(descriptor.render(cfg["BASE_URL"], cfg["APP_KEY"]))
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.post("/<any(installed, enabled, disabled, uninstalled):event>")
def lifecycle(event: str):  # type: ignore[no-untyped-def]
    """Each event verified as Atlassian signs it, the token before the body (no token signs
    the body); each token is accepted once."""
    cfg = current_app.config
    req = incoming()
    try:
        token, claims = _verify_lifecycle_token(event, req, cfg)
        payload = lifecycle_payload(claims, request.get_data(cache=False))
    except JWTRejected as exc:
        log.warning("lifecycle %s rejected: %s", event, exc.detail)
        return rejected(exc)
    logs.tenant.set(payload["clientKey"])
    try:
        with extensions.db.session() as session:
            if not replay.consume(session, token, _canonical(payload), claims["exp"],
                                  cfg["JWT_LEEWAY"]):
                log.info("lifecycle %s repeated with the same token and body; already done", event)
                return "", 204
            if event in tenancy.SIGNED_INSTALL_EVENTS:
                tenancy.check_not_stale(session, payload["clientKey"], claims["iat"])
            if event == "installed":
                tenancy.save_install(session, payload, extensions.secrets.encrypt,
                                     iat=claims["iat"], domains=cfg["ATLASSIAN_DOMAINS"])
            else:
                tenancy.set_state(session, payload["clientKey"], event)
    except tenancy.BadInstallPayload as exc:
        return jsonify(error=str(exc)), 400
    except (replay.TokenReplayed, tenancy.StaleInstall, IntegrityError) as exc:
        reason = str(exc) if not isinstance(exc, IntegrityError) else "this lifecycle token was already used"
        log.warning("lifecycle %s rejected: %s", event, reason)
        return rejected(JWTRejected(reason))
    log.info("lifecycle %s accepted", event)
    return "", 204


def _canonical(payload: dict) -> bytes:
    """The body as the replay guard compares it: canonical JSON, so key order does not matter."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def _verify_lifecycle_token(event: str, req, cfg) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    if event in tenancy.SIGNED_INSTALL_EVENTS:
        return verify_signed_install(req, keys=install_keys.for_url(cfg["INSTALL_KEYS_URL"]),
                                     base_url=cfg["BASE_URL"], leeway=cfg["JWT_LEEWAY"],
                                     max_lifetime=cfg["JWT_MAX_LIFETIME"])
    # enabled/disabled: HS256 with the installation's current shared secret
    with extensions.db.session() as session:
        claims = verify_request(
            req, secret_for=lambda iss: tenancy.stored_secret(session, iss, extensions.secrets.decrypt),
            base_url=cfg["BASE_URL"], leeway=cfg["JWT_LEEWAY"], allow_context_qsh=False,
            max_lifetime=cfg["JWT_MAX_LIFETIME"])
    return extract_token(req), claims


@bp.post("/webhooks/atlassian/<any(user_created, user_updated, user_deleted):event>")
@connect_jwt()
def atlassian_webhook(event: str):  # type: ignore[no-untyped-def]
    """A new account may be one an IdP user was waiting for (invited, or skipped for lack of an
    account): resync that user on each of the site's connections so it is linked now rather
    than at the next tick (app/webhooks/accounts.py).
    Updates and deletions change nothing we manage, so they are only logged. Delivery is best
    effort on Atlassian's side; the schedule is what converges."""
    user = (request.get_json(silent=True) or {}).get("user") or {}
    account = user.get("accountId") if isinstance(user, dict) else None
    log.info("atlassian webhook %s for %s", event, account)
    if event == "user_created":
        accounts.account_created(g.installation.id, user if isinstance(user, dict) else {},
                                 lambda: extensions.redis(current_app.config))
    return "", 204


@bp.get("/connect/whoami")
@connect_jwt(context_qsh=True)
def whoami():  # type: ignore[no-untyped-def]
    """The tenant and user behind a page token (the admin page's first call)."""
    inst = g.installation
    return jsonify(clientKey=inst.client_key, productType=inst.product_type,
                   baseUrl=inst.base_url, accountId=g.account_id)
