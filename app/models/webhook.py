"""Where an IdP tells us something changed: a connection's webhook endpoint, the deliveries it has
seen (replay guard), and the push subscriptions we hold at the IdP (Graph, Google)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.columns import ConnectionPart, connection_ref, key, moment, stamped


class WebhookEndpoint(Base):
    """A connection's webhook URL (`/webhooks/<token>`) and the secret that authenticates it.

    The token is a capability in a URL, not a secret at rest: it is shown to the admin and
    sent by the IdP in the clear. The secret (`whsec_…`) signs or authenticates deliveries
    (Standard Webhooks key, Okta header value, Graph clientState, Google channel token) and
    is stored only encrypted.
    """

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = key()
    connection_id: Mapped[int] = connection_ref(unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = stamped()
    rotated_at: Mapped[datetime | None] = moment()


class WebhookDelivery(ConnectionPart, Base):
    """A signed delivery already accepted, by its sender's message id: a replay is refused."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (UniqueConstraint("connection_id", "message_id"),)

    message_id: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime] = stamped(index=True)


class IdpSubscription(ConnectionPart, Base):
    """A push subscription we created at the IdP: a Graph subscription or a Google watch channel.

    `provider` is `graph` or `google`; `resource` what it watches (`users`, `groups`,
    `admin-activity`); `external_id` the IdP's id (Graph subscription id, Google channel id);
    `resource_id` Google's opaque resourceId (needed to stop a channel).
    """

    __tablename__ = "idp_subscription"
    __table_args__ = (UniqueConstraint("connection_id", "provider", "resource"),)

    provider: Mapped[str] = mapped_column(String(16))
    resource: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    resource_id: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime] = moment(index=True)
    created_at: Mapped[datetime] = stamped()
    renewed_at: Mapped[datetime | None] = moment()
