"""`/webhooks/<token>`: each IdP's handshake answered exactly, each delivery verified, recorded,
enqueued. Unknown URL → 404, bad signature → 401, malformed body → 400; none has a side effect.

The connection's kind decides the format: Okta event hooks, Microsoft Graph change
notifications (Entra), Google push (Directory users.watch and Reports activities.watch),
p2-inc/keycloak-events (Keycloak, when X-Keycloak-Signature is sent), else Standard Webhooks.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from app import extensions
from app.crypto import SecretError
from app.webhooks import endpoints, formats, record, subscribe_jobs
from app.webhooks.endpoints import Receiver
from app.webhooks.named import BadEvent, Named, everything
from app.webhooks.signatures import SignatureRejected, same_secret, verify, verify_keycloak

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

OKTA_CHALLENGE = "X-Okta-Verification-Challenge"
GOOGLE_STATES = {"sync", "add", "delete", "update", "undelete", "makeAdmin"}
REPORTS_STATE = re.compile(r"[A-Z][A-Z0-9_]{0,99}")
"""A Reports API activity message names its event (e.g. REMOVE_GROUP_MEMBER) as the state."""


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status


def _redis() -> Callable[[], Any]:
    cfg = current_app.config
    return lambda: extensions.redis(cfg)


@bp.route("/<token>", methods=["GET", "POST"])
def receive(token: str):  # type: ignore[no-untyped-def]
    with extensions.db.reading() as connection:
        found = endpoints.by_token(connection, token)
    if found is None or found.kind in endpoints.NO_WEBHOOK_KINDS:
        return _error(404, "no webhook at this address")
    cid, kind, inactive = found.connection_id, found.kind, found.inactive_reason()
    try:
        secret = endpoints.plaintext_secret(extensions.secrets.key_ring(), found.secret_encrypted)
    except SecretError as exc:  # the operator removed the key: say so, keep nothing
        log.error("webhook secret of connection %s unreadable: %s", cid, exc.message)
        return _error(503, "this webhook's secret cannot be read; the operator must restore "
                           "the key that encrypted it (USERSYNC_SECRET_KEYS)")
    handler = HANDLERS.get(kind, _standard)
    try:
        answer = handler(found, secret)
    except SignatureRejected as exc:
        log.warning("webhook for connection %s refused: %s", cid, exc)
        return _error(401, str(exc))
    except BadEvent as exc:
        return _error(400, str(exc))
    if not isinstance(answer, Named):
        return answer  # a handshake or a duplicate, answered by the handler
    ok = 202 if kind == "entra" else 200  # Graph expects 202 Accepted; the others any 2xx
    if inactive:
        # verified and well formed, but the connection may not run: nothing is kept
        return jsonify(status=f"connection not active ({inactive}): nothing done"), ok
    if answer.empty():
        return jsonify(status="nothing to sync"), ok
    record.record(extensions.db, cid, answer, _redis(), flagged=found.pending_changes)
    return jsonify(status="accepted"), ok


def _json_body() -> Any:
    try:
        return json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise BadEvent("the body is not JSON") from None


def _okta(found: Receiver, secret: str):  # type: ignore[no-untyped-def]
    challenge = request.headers.get(OKTA_CHALLENGE)
    if request.method == "GET":
        # Okta's one-time verification: echo the challenge as JSON (within its 3 s)
        if not challenge:
            return _error(400, f"a GET is Okta's verification and carries {OKTA_CHALLENGE}")
        # Okta sends the hook's configured auth header with the verification too (its
        # documentation does not promise it, so only a header that is present is checked)
        sent = request.headers.get("Authorization")
        if sent is not None and not same_secret(secret, sent):
            raise SignatureRejected("the Authorization header is not this hook's secret")
        return jsonify(verification=challenge)
    if not same_secret(secret, request.headers.get("Authorization")):
        raise SignatureRejected("the Authorization header is not this hook's secret")
    return formats.okta(_json_body())


def _graph(found: Receiver, secret: str):  # type: ignore[no-untyped-def]
    token = request.args.get("validationToken")
    if token is not None:
        # Graph's validation of notificationUrl / lifecycleNotificationUrl: the decoded token,
        # text/plain, 200, within 10 s (request.args is already URL-decoded)
        return Response(token, status=200, mimetype="text/plain")
    if request.method != "POST":
        return _error(405, "Graph delivers notifications by POST")
    items = formats.graph_items(_json_body())
    if not all(same_secret(secret, item.get("clientState")) for item in items):
        raise SignatureRejected("clientState does not match this connection's")
    named = Named()
    for item in items:
        lifecycle = item.get("lifecycleEvent")
        if lifecycle is None:
            named.merge(formats.graph_change(item))
        elif lifecycle in ("reauthorizationRequired", "subscriptionRemoved"):
            subscribe_jobs.enqueue_renewal(found.connection_id, _redis())
            if lifecycle == "subscriptionRemoved":
                named.merge(everything())  # changes between removal and re-creation
        elif lifecycle == "missed":
            named.merge(everything())
        else:
            raise BadEvent(f"unknown lifecycleEvent {lifecycle!r}")
    return named


def _google(found: Receiver, secret: str):  # type: ignore[no-untyped-def]
    if request.method != "POST":
        return _error(405, "Google delivers push messages by POST")
    if not same_secret(secret, request.headers.get("X-Goog-Channel-Token")):
        raise SignatureRejected("X-Goog-Channel-Token is not this connection's")
    state = request.headers.get("X-Goog-Resource-State", "")
    if state not in GOOGLE_STATES and not REPORTS_STATE.fullmatch(state):
        raise BadEvent("X-Goog-Resource-State is missing or unknown")
    if state == "sync":
        return "", 200  # the channel's first message: acknowledged, nothing changed
    return formats.google(state, _json_body())


def _keycloak(found: Receiver, secret: str):  # type: ignore[no-untyped-def]
    if "X-Keycloak-Signature" not in request.headers or "webhook-signature" in request.headers:
        return _standard(found, secret)
    if request.method != "POST":
        return _error(405, "webhooks are POSTed")
    body = request.get_data(cache=True)
    verify_keycloak(secret, request.headers.get("X-Keycloak-Signature"), body)
    parsed = _json_body()
    named = formats.keycloak(parsed)
    uid = parsed.get("uid") if isinstance(parsed, dict) else None
    return _once(found, uid[:255] if isinstance(uid, str) and uid else None, named)


def _standard(found: Receiver, secret: str):  # type: ignore[no-untyped-def]
    if request.method != "POST":
        return _error(405, "webhooks are POSTed")
    body = request.get_data(cache=True)
    message_id = verify(secret, {k.lower(): v for k, v in request.headers.items()}, body)
    return _once(found, message_id, formats.standard(_json_body()))


def _once(found: Receiver, message_id: str | None, named: Named):  # type: ignore[no-untyped-def]
    """`named`, unless this message id was accepted before: the id is the idempotency key
    (Standard Webhooks), so a replay or a retry does nothing again. An inactive connection
    keeps no id (it keeps nothing)."""
    if message_id is None or found.inactive_reason() is not None:
        return named
    if not record.first_delivery(extensions.db, found.connection_id, message_id):
        return jsonify(status="duplicate: already received, nothing done"), 200
    return named


HANDLERS = {"okta": _okta, "entra": _graph, "google": _google, "keycloak": _keycloak}
