"""Push subscriptions we hold at an IdP, created and renewed before they expire.

Microsoft Graph (Entra): one subscription per resource (`users`, `groups`), changeType
created,updated,deleted, notificationUrl and lifecycleNotificationUrl = the connection's
webhook URL, clientState = its secret; Graph allows at most 41760 minutes for these resources,
so we ask for a little less and renew (PATCH expirationDateTime) when less than three days are
left — on every run of this job, which the schedule tick and Graph's reauthorizationRequired
lifecycle notification both enqueue. Google Workspace: a Directory API `users.watch` channel
(`{id, type: "web_hook", address, token, params.ttl}`); channels cannot be renewed, so a new
one replaces an expiring one and the old is stopped. The same is done for the Reports API's
`activities.watch` on application `admin` (userKey `all`): its messages name group membership
changes (ADD_GROUP_MEMBER, REMOVE_GROUP_MEMBER with USER_EMAIL), which users.watch never sends;
it is called with a token of its own scope, admin.reports.audit.readonly, so a tenant that has not
delegated it still syncs and gets its users.watch channels, and is told what to grant.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.db import Database
from app.models import Connection
from app.models.columns import aware
from app.models.webhook import IdpSubscription, WebhookEndpoint
from workers.sources.base import SourceError, SourcePermissionError
from workers.sources.google import REPORTS_GRANT

log = logging.getLogger(__name__)

PROVIDERS = {"entra": "graph", "google": "google"}
"""The connection kinds whose IdP we hold push subscriptions at, and the provider we store."""
GRAPH_LIFETIME = timedelta(minutes=41760 - 60)
GOOGLE_LIFETIME = timedelta(days=6)
RENEW_WHEN_LEFT = timedelta(days=3)
GRAPH_RESOURCES = ("users", "groups")
GOOGLE_EVENTS = ("add", "delete", "update", "undelete")
"""Directory API users.watch `event` values we ask for (one channel each)."""
GOOGLE_ACTIVITY = "admin-activity"
"""The resource name we store for the Reports API admin activity channel."""
REPORTS_WATCH = "/admin/reports/v1/activity/users/all/applications/admin/watch"
REPORTS_STOP = "/admin/reports_v1/channels/stop"


class SubscriptionError(Exception):
    """The subscriptions could not be made; the message says why (shown to the operator)."""


def ensure(db: Database, connection_id: int, config: dict[str, Any],
           now: datetime | None = None) -> dict[str, Any]:
    """Create missing subscriptions and renew those expiring soon; returns what was done."""
    from app import extensions
    from workers.sync.engine import make_source

    now = now or datetime.now(UTC)
    with db.session() as session:
        conn = session.get(Connection, connection_id)
        if conn is None or conn.deleted_at is not None:
            raise SubscriptionError(f"no connection {connection_id}")
        if conn.kind not in PROVIDERS:
            return {"connection_id": connection_id, "kind": conn.kind,
                    "subscriptions": [], "note": "this IdP has no push subscriptions to make"}
        if conn.inactive_reason():
            return {"connection_id": connection_id, "kind": conn.kind, "subscriptions": [],
                    "note": conn.inactive_reason()}
        endpoint = session.scalars(select(WebhookEndpoint).where(
            WebhookEndpoint.connection_id == connection_id)).first()
        if endpoint is None:
            raise SubscriptionError(f"connection {connection_id} has no webhook yet: "
                                    f"`usersync webhooks show {connection_id}` creates it")
        url = f"{config['BASE_URL'].rstrip('/')}/webhooks/{endpoint.token}"
        secret = extensions.secrets.decrypt(endpoint.secret_encrypted)
        source = make_source(conn, extensions.secrets.decrypt, bool(config.get("ALLOW_PRIVATE_URLS")))
        kind = conn.kind
        held = {s.resource: _plain(s) for s in session.scalars(select(IdpSubscription).where(
            IdpSubscription.connection_id == connection_id))}
    provider = PROVIDERS[kind]
    done: list[dict[str, Any]] = []
    try:
        if kind == "entra":
            for r in GRAPH_RESOURCES:
                done.append(_graph(source.client, r, held.get(r), url, secret, now))
        else:
            base = source.settings["api_url"].rstrip("/")
            directory = GoogleWatch("users/watch", f"{base}/admin/directory_v1/channels/stop")
            for e in GOOGLE_EVENTS:
                done.append(_google(source.client, directory, e, held.get(e), url, secret, now))
            reports = GoogleWatch(f"{base}{REPORTS_WATCH}", f"{base}{REPORTS_STOP}")
            try:
                done.append(_google(source.reports_client(), reports, GOOGLE_ACTIVITY,
                                    held.get(GOOGLE_ACTIVITY), url, secret, now))
            except SourcePermissionError as exc:  # refused at the token endpoint or by the API
                said = exc.message if REPORTS_GRANT in exc.message else \
                    f"{REPORTS_GRANT}. {exc.message}"
                raise SubscriptionError("Google refused the Reports API admin activity watch "
                                        f"(group membership changes): {said}") from exc
    except SourceError as exc:
        raise SubscriptionError(f"the IdP refused the subscription: {exc.message}") from exc
    finally:  # what was made before a refusal is kept, so the next run renews, not duplicates
        _store(db, connection_id, provider, done)
    return {"connection_id": connection_id, "kind": kind, "url": url,
            "subscriptions": [{k: v for k, v in d.items() if k != "stop"} for d in done]}


def _plain(sub: IdpSubscription) -> dict[str, Any]:
    return {"external_id": sub.external_id, "resource_id": sub.resource_id,
            "expires_at": aware(sub.expires_at)}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _graph(client, resource: str, held: dict[str, Any] | None, url: str, secret: str,  # type: ignore[no-untyped-def]
           now: datetime) -> dict[str, Any]:
    expires = now + GRAPH_LIFETIME
    if held and held["expires_at"] - now > RENEW_WHEN_LEFT:
        return {"resource": resource, "action": "kept", **held}
    if held and held["expires_at"] <= now:
        # expired, or marked so by a webhook rotation: a renewal would keep the old
        # notificationUrl and clientState, so it is replaced (and removed if Graph still has it)
        try:
            client.request("DELETE", f"subscriptions/{held['external_id']}")
        except SourceError:
            log.info("old Graph subscription %s could not be deleted", held["external_id"])
    elif held:
        try:
            client.request("PATCH", f"subscriptions/{held['external_id']}",
                           json={"expirationDateTime": _iso(expires)})
            return {"resource": resource, "action": "renewed", "external_id": held["external_id"],
                    "resource_id": None, "expires_at": expires}
        except SourceError as exc:
            if getattr(exc, "status", None) != 404:
                raise
            log.info("Graph subscription %s is gone; creating a new one", held["external_id"])
    body = {"changeType": "created,updated,deleted", "notificationUrl": url,
            "lifecycleNotificationUrl": url, "resource": resource,
            "expirationDateTime": _iso(expires), "clientState": secret}
    created = client.decode(client.request("POST", "subscriptions", json=body))
    return {"resource": resource, "action": "created", "external_id": created["id"],
            "resource_id": None, "expires_at": expires}


@dataclass(frozen=True)
class GoogleWatch:
    """Where a kind of Google channel is opened (relative to the Directory API, or absolute)
    and where it is stopped."""

    watch: str
    stop: str


def _google(client, where: GoogleWatch, event: str, held: dict[str, Any] | None,  # type: ignore[no-untyped-def]
            url: str, secret: str, now: datetime) -> dict[str, Any]:
    if held and held["expires_at"] - now > RENEW_WHEN_LEFT:
        return {"resource": event, "action": "kept", **held}
    channel = str(uuid.uuid4())
    body = {"id": channel, "type": "web_hook", "address": url, "token": secret,
            "params": {"ttl": str(int(GOOGLE_LIFETIME.total_seconds()))}}
    params = {"customer": "my_customer", "event": event} if event in GOOGLE_EVENTS else None
    answer = client.decode(client.request("POST", where.watch, params=params, json=body))
    expiration = answer.get("expiration")
    expires = (datetime.fromtimestamp(int(expiration) / 1000, UTC) if expiration
               else now + GOOGLE_LIFETIME)
    if held:  # the replaced channel is stopped, so the IdP does not deliver twice
        try:
            client.request("POST", where.stop, json={"id": held["external_id"],
                                                     "resourceId": held["resource_id"]})
        except SourceError:
            log.info("old Google channel %s could not be stopped", held["external_id"])
    return {"resource": event, "action": "created", "external_id": channel,
            "resource_id": answer.get("resourceId"), "expires_at": expires}


def _store(db: Database, connection_id: int, provider: str, done: list[dict[str, Any]]) -> None:
    with db.session() as session:
        for item in done:
            if item["action"] == "kept":
                continue
            row = session.scalars(select(IdpSubscription).where(
                IdpSubscription.connection_id == connection_id,
                IdpSubscription.resource == item["resource"])).first()
            if row is None:
                row = IdpSubscription(connection_id=connection_id, provider=provider,
                                      resource=item["resource"])
                session.add(row)
            row.external_id, row.resource_id = item["external_id"], item["resource_id"]
            row.expires_at = item["expires_at"]
            row.renewed_at = datetime.now(UTC)


def due(db: Database, now: datetime | None = None) -> list[int]:
    """Connections whose subscriptions expire within RENEW_WHEN_LEFT (for the schedule tick)."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        return sorted(set(session.scalars(select(IdpSubscription.connection_id).where(
            IdpSubscription.expires_at < now + RENEW_WHEN_LEFT))))


JOB = "workers.jobs.ensure_subscriptions"


def enqueue(redis, connection_id: int) -> str:  # type: ignore[no-untyped-def]
    """Queue one renewal per connection (a second ask while one waits joins it)."""
    from workers.queue import queue

    job_id = f"subscriptions-{connection_id}"
    q = queue(redis)
    existing = q.fetch_job(job_id)
    if existing is not None and existing.get_status(refresh=False) in ("queued", "deferred"):
        return job_id
    q.enqueue(JOB, connection_id, job_id=job_id, job_timeout=300, result_ttl=3600)
    return job_id


def renew_due(db: Database, redis) -> int:  # type: ignore[no-untyped-def]
    """From the schedule tick: queue the renewal of every subscription expiring soon."""
    ids = due(db)
    for cid in ids:
        enqueue(redis, cid)
    return len(ids)
