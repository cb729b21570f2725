"""mirror of the managed groups and memberships; connection reconcile schedule; run scope

Revision ID: 0016
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from migrations.ddl import connection_ref, moment

revision = "0016"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "managed_group",
        connection_ref(primary_key=True),
        sa.Column("group_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("admin_rights", sa.Boolean(), nullable=True),
        moment("reconciled_at", nullable=True),
    )
    op.create_table(
        "managed_membership",
        connection_ref(primary_key=True),
        sa.Column("group_id", sa.String(128), primary_key=True),
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_managed_membership_connection_account", "managed_membership",
                    ["connection_id", "account_id"])
    with op.batch_alter_table("connection") as batch:
        batch.add_column(sa.Column("reconcile_interval_hours", sa.Integer(), nullable=False,
                                   server_default="24"))
        batch.add_column(moment("reconciled_at", nullable=True))
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(sa.Column("scope", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_column("scope")
    with op.batch_alter_table("connection") as batch:
        batch.drop_column("reconciled_at")
        batch.drop_column("reconcile_interval_hours")
    op.drop_index("ix_managed_membership_connection_account", "managed_membership")
    op.drop_table("managed_membership")
    op.drop_table("managed_group")
