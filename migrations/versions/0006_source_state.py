"""source state: the stored base and cursor of incremental fetches

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_state",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("settings_hash", sa.String(64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("snapshot", sa.LargeBinary(), nullable=False),
        sa.Column("user_count", sa.Integer(), nullable=False),
        sa.Column("group_count", sa.Integer(), nullable=False),
        sa.Column("full_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connection.id"],
                                name="fk_source_state_connection_id_connection",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("connection_id", name="pk_source_state"),
    )


def downgrade() -> None:
    op.drop_table("source_state")
