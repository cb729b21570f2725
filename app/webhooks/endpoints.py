"""A connection's webhook endpoint: created on first use, rotated on demand, described per IdP."""

from __future__ import annotations

import base64
import functools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.orm import Session

from app.crypto import KeyRing
from app.models import Connection, Installation
from app.models.columns import aware
from app.models.connection import inactive_reason
from app.models.installation import InstallationState, utcnow
from app.models.webhook import IdpSubscription, WebhookEndpoint
from app.webhooks.signatures import SECRET_PREFIX
from workers.subscriptions import PROVIDERS

NO_WEBHOOK_KINDS = frozenset({"scim_push"})
"""SCIM push connections are told of every change by the IdP already: they have no webhook."""
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class NoWebhook(ValueError):
    """This connection kind takes no webhooks; the message says why."""


def new_secret() -> str:
    # 24 bytes: a Standard Webhooks key (24–64 bytes) whose text also fits Graph's 128-char
    # clientState and Google's 256-char channel token
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def ensure(session: Session, conn: Connection, encrypt: Callable[[str], str]) -> WebhookEndpoint:
    """The connection's endpoint, created with a fresh token and secret the first time."""
    if conn.kind in NO_WEBHOOK_KINDS:
        raise NoWebhook(f"connection {conn.id} is a SCIM push connection: its IdP already "
                        "pushes every change, so it has no webhook")
    found = session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.connection_id == conn.id)).first()
    if found is None:
        found = WebhookEndpoint(connection_id=conn.id, token=secrets.token_urlsafe(32),
                                secret_encrypted=encrypt(new_secret()))
        session.add(found)
        session.flush()
    return found


def rotate(session: Session, conn: Connection, encrypt: Callable[[str], str]) -> WebhookEndpoint:
    """A new URL and secret; the old ones stop working at once (re-register with the IdP).

    The push subscriptions held at Entra or Google still name the old URL and secret, so they
    are marked expired as of now: the next subscription run (queued by the admin API, else the
    schedule tick) replaces each with one for the new URL and removes the old one at the IdP."""
    endpoint = ensure(session, conn, encrypt)
    endpoint.token = secrets.token_urlsafe(32)
    endpoint.secret_encrypted = encrypt(new_secret())
    endpoint.rotated_at = utcnow()
    session.execute(update(IdpSubscription).where(IdpSubscription.connection_id == conn.id)
                    .values(expires_at=endpoint.rotated_at))
    session.flush()
    return endpoint


@dataclass(frozen=True)
class Receiver:
    """What one delivery needs of its endpoint and connection, read fresh for each delivery."""

    connection_id: int
    kind: str
    secret_encrypted: str
    enabled: bool
    site_state: InstallationState | None
    pending_changes: bool

    def inactive_reason(self) -> str | None:
        return inactive_reason(self.connection_id, self.enabled, self.site_state)


def by_token(connection: Session | SAConnection, token: str) -> Receiver | None:
    """The endpoint of a URL token and its (not deleted) connection, or None.

    One query of the few columns a delivery reads, no ORM objects: it runs for every delivery
    (a storm is a thousand a second), and reading the row each time is what makes a rotated
    token or a disabled connection refused at once in every process.
    """
    if not TOKEN_PATTERN.match(token or ""):
        return None
    row = connection.execute(_BY_TOKEN, {"token": token}).first()
    return Receiver(*row) if row else None


_BY_TOKEN = (select(Connection.id, Connection.kind, WebhookEndpoint.secret_encrypted,
                    Connection.enabled, Installation.state, Connection.pending_changes)
             .join(Connection, Connection.id == WebhookEndpoint.connection_id)
             .join(Installation, Installation.id == Connection.installation_id)
             .where(WebhookEndpoint.token == bindparam("token"), Connection.deleted_at.is_(None)))
"""Built once: constructing the statement cost more than running it."""


def plaintext_secret(ring: KeyRing, secret_encrypted: str) -> str:
    """The endpoint's secret, decrypted once per process and key ring and kept in memory only.

    Safe to keep: every rotation encrypts a new secret (a new ciphertext, never found here),
    and the ciphertext comes from the row read for this very delivery. Raises SecretError."""
    return _decrypted(ring, secret_encrypted)


@functools.lru_cache(maxsize=4096)
def _decrypted(ring: KeyRing, secret_encrypted: str) -> str:
    return ring.decrypt(secret_encrypted)  # a SecretError is raised, never cached


def url(base_url: str, endpoint: WebhookEndpoint) -> str:
    return f"{base_url.rstrip('/')}/webhooks/{endpoint.token}"


def subscriptions(session: Session, conn: Connection) -> list[dict[str, Any]] | None:
    """The push subscriptions held at the IdP for this connection (None: its kind has none)."""
    if conn.kind not in PROVIDERS:
        return None
    rows = session.scalars(select(IdpSubscription).where(
        IdpSubscription.connection_id == conn.id).order_by(IdpSubscription.resource))
    return [{"resource": r.resource, "provider": r.provider, "external_id": r.external_id,
             "expires_at": aware(r.expires_at), "renewed_at": aware(r.renewed_at or r.created_at)}
            for r in rows]


def describe(conn: Connection, endpoint: WebhookEndpoint, secret: str, base_url: str,
             held: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What `usersync webhooks show` and the admin API print: url, secret, format, setup steps,
    and (Entra, Google) the subscriptions held at the IdP."""
    link = url(base_url, endpoint)
    fmt, steps = SETUP.get(conn.kind, SETUP["*"])
    return {"connection_id": conn.id, "kind": conn.kind, "format": fmt, "url": link,
            "secret": secret, "created_at": endpoint.created_at, "rotated_at": endpoint.rotated_at,
            "setup": [step.format(url=link, secret=secret) for step in steps],
            "subscriptions": held}


SETUP: dict[str, tuple[str, list[str]]] = {
    "okta": ("okta-event-hook", [
        "Okta Admin Console → Workflow → Event Hooks → Create Event Hook.",
        "URL: {url}",
        "Authentication field: Authorization; Authentication secret: {secret}",
        "Subscribe to: user.lifecycle.create, user.lifecycle.activate, user.lifecycle.deactivate, "
        "user.lifecycle.suspend, user.lifecycle.unsuspend, user.lifecycle.delete.initiated, "
        "user.account.update_profile, group.user_membership.add, group.user_membership.remove, "
        "group.lifecycle.create, group.lifecycle.delete, group.profile.updated.",
        "Save, then Verify: Okta sends its one-time verification request and this service answers it.",
    ]),
    "entra": ("graph-change-notifications", [
        "Nothing to set up in Entra: `usersync webhooks subscribe CONNECTION_ID` (and every "
        "sync) creates the Microsoft Graph subscriptions for users and groups with "
        "notificationUrl {url} and renews them before they expire.",
        "The app registration needs User.Read.All and GroupMember.Read.All (application).",
    ]),
    "google": ("google-push", [
        "Nothing to set up in Google: `usersync webhooks subscribe CONNECTION_ID` creates the "
        "Directory API users.watch channels and the Reports API admin activity channel "
        "(group membership changes) with address {url}, and renews them before they expire.",
        "In the Google Admin console → Security → Access and data control → API controls → "
        "Domain-wide delegation, add https://www.googleapis.com/auth/admin.reports.audit.readonly "
        "to the service account's client ID, next to the three admin.directory readonly scopes: "
        "the admin activity watch (group membership changes) is refused without it.",
    ]),
    "keycloak": ("keycloak-events or standard-webhooks", [
        "Install the p2-inc/keycloak-events extension and add `ext-event-webhook` to the "
        "realm's event listeners; enable admin events.",
        "Create a webhook (POST /realms/{{realm}}/webhooks) with url {url}, secret {secret} "
        "and eventTypes [\"admin.*\", \"access.REGISTER\", \"access.UPDATE_PROFILE\"].",
        "Or send Standard Webhooks yourself (app/webhooks/README.md) with the same secret.",
    ]),
    "*": ("standard-webhooks", [
        "POST Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature: "
        "v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">) to {url}",
        "Signing secret: {secret}",
        "Body: {{\"type\": \"user.updated\" | \"user.deleted\" | \"group.updated\" | "
        "\"directory.changed\", \"data\": {{...}}}} — see app/webhooks/README.md.",
    ]),
}
