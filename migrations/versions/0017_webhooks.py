"""webhook_endpoint, webhook_delivery, idp_subscription: IdP webhooks and push subscriptions

Revision ID: 0017
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from migrations.ddl import connection_ref, moment, primary_key

revision = "0017"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoint",
        primary_key(),
        connection_ref(unique=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("secret_encrypted", sa.Text, nullable=False),
        moment("created_at"),
        moment("rotated_at", nullable=True),
    )
    op.create_table(
        "webhook_delivery",
        primary_key(),
        connection_ref(index=True),
        sa.Column("message_id", sa.String(255), nullable=False),
        moment("received_at", index=True),
        sa.UniqueConstraint("connection_id", "message_id"),
    )
    op.create_table(
        "idp_subscription",
        primary_key(),
        connection_ref(index=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=True),
        moment("expires_at", index=True),
        moment("created_at"),
        moment("renewed_at", nullable=True),
        sa.UniqueConstraint("connection_id", "provider", "resource"),
    )


def downgrade() -> None:
    op.drop_table("idp_subscription")
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_endpoint")
