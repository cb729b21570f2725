"""HTTP routes of the Forge front door (the manifest's `endpoint` modules point here)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, g, jsonify, request
from sqlalchemy.orm import Session

from app import extensions, logs, triggers
from app.forge import fit, installations, jwks, schedule
from app.models import Installation
from workers.atlassian.system_token import HEADER as SYSTEM_TOKEN_HEADER

log = logging.getLogger(__name__)
bp = Blueprint("forge", __name__, url_prefix="/forge")

LIFECYCLE_PATH = "/forge/lifecycle"
SCHEDULE_PATH = "/forge/schedule"
UNINSTALL_PATH = "/forge/uninstall"
INSTALL_EVENTS = ("avi:forge:installed:app", "avi:forge:upgraded:app")
EVENTS_PATH = "/forge/events"
USER_EVENTS = ("avi:jira:created:user",)


def verify_request() -> fit.Invocation:
    """The verified FIT of the current request; FITRejected when it fails a check."""
    cfg = current_app.config
    keys = jwks.for_app(current_app.extensions, cfg["FORGE_JWKS_URL"])
    return fit.verify(request.headers.get("Authorization"), keys, cfg.get("FORGE_APP_ID", ""))


def unauthorized(exc: fit.FITRejected):  # type: ignore[no-untyped-def]
    response = jsonify(error={"code": "unauthorized", "message": exc.message})
    response.status_code = 401
    return response


def forge_fit(view: Callable[..., Any]) -> Callable[..., Any]:
    """Guard a route with FIT verification: 401 (and nothing else happens) when it fails."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            g.invocation = verify_request()
        except fit.FITRejected as exc:
            log.warning("Forge call to %s refused: %s", request.path, exc.message)
            return unauthorized(exc)
        logs.tenant.set(g.invocation.installation_id)
        return view(*args, **kwargs)

    return guarded


def _event(known: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """The delivery's JSON body and its eventType; anything else is answered 400 here."""
    body = request.get_json(silent=True)
    event = body.get("eventType") if isinstance(body, dict) else None
    if event not in known:
        response = jsonify(error={"code": "validation", "message":
                                  f"eventType must be one of {', '.join(known)}, not {event!r}"})
        response.status_code = 400
        abort(response)
    return body, event


def _recorded(session: Session, *, revive: bool = False) -> Installation:
    """The invocation's installation, recorded (or refreshed) with the system token it carries."""
    return installations.record(session, g.invocation,
                                token=request.headers.get(SYSTEM_TOKEN_HEADER),
                                encrypt=extensions.secrets.encrypt, revive=revive)


@bp.post("/lifecycle")
@forge_fit
def lifecycle():  # type: ignore[no-untyped-def]
    """`avi:forge:installed:app` / `avi:forge:upgraded:app`: record (or adopt) the installation."""
    _, event = _event(INSTALL_EVENTS)
    with extensions.db.session() as session:
        installation_id = _recorded(session, revive=True).id
    log.info("Forge %s accepted (installation %s)", event, installation_id)
    return "", 204


@bp.post("/events")
@forge_fit
def product_event():  # type: ignore[no-untyped-def]
    """`avi:jira:created:user`: the IdP user waiting for this account is resynced now."""
    from app.webhooks import accounts

    body, _ = _event(USER_EVENTS)
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    cfg = current_app.config
    with extensions.db.session() as session:
        installation_id = _recorded(session).id
    accounts.account_created(installation_id, user, lambda: extensions.redis(cfg))
    return "", 204


@bp.post("/schedule")
@forge_fit
def scheduled_trigger():  # type: ignore[no-untyped-def]
    """The fiveMinute scheduled trigger: enqueue this installation's due connections."""
    cfg = current_app.config
    redis = _redis(cfg)
    if not schedule.first_delivery(redis, g.invocation.installation_id):
        log.info("duplicate scheduled-trigger delivery answered without work")
        return "", 204
    try:
        with extensions.db.session() as session:
            due = schedule.claim_due(session, _recorded(session))
    except Exception:
        schedule.delivery_failed(redis, g.invocation.installation_id)
        raise
    # after the commit, so a worker sees the moved schedule; a lost queue is caught up by the tick
    for connection_id, trigger in due:
        triggers.enqueue(connection_id, lambda: extensions.redis(cfg), trigger)
    if due:
        log.info("scheduled trigger enqueued %d connection(s)", len(due))
    return "", 204


def _redis(cfg):  # type: ignore[no-untyped-def]
    try:
        return extensions.redis(cfg)
    except Exception:  # the embedded server could not start: go on without the duplicate check
        log.warning("no Redis for the scheduled trigger's duplicate check", exc_info=True)
        return None


@bp.post("/uninstall")
@forge_fit
def pre_uninstall():  # type: ignore[no-untyped-def]
    """preUninstall (Forge sends no uninstall event): stop the installation's schedules."""
    with extensions.db.session() as session:
        installations.uninstall(session, g.invocation)
    log.info("Forge preUninstall accepted")
    return "", 204
