"""connection: IdP sources of an installation

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("secrets_encrypted", sa.Text(), nullable=True),
        sa.Column("mapping_mode", sa.String(16), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("default_groups", sa.JSON(), nullable=False),
        sa.Column("deprovision", sa.String(32), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.String(64), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_changes", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["installation_id"], ["installation.id"],
                                name="fk_connection_installation_id_installation",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_connection"),
    )
    op.create_index("ix_connection_installation_id", "connection", ["installation_id"])
    op.create_index("ix_connection_next_run_at", "connection", ["next_run_at"])


def downgrade() -> None:
    op.drop_index("ix_connection_next_run_at", table_name="connection")
    op.drop_index("ix_connection_installation_id", table_name="connection")
    op.drop_table("connection")
