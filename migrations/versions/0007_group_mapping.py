"""group_mapping: manual-mode rules of a connection

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from migrations.ddl import connection_fk, connection_id, key

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_mapping",
        key(),
        connection_id(),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("idp_group", sa.String(255), nullable=False),
        sa.Column("atlassian_groups", sa.JSON(), nullable=False),
        connection_fk("group_mapping"),
        sa.PrimaryKeyConstraint("id", name="pk_group_mapping"),
    )
    op.create_index("ix_group_mapping_connection_id", "group_mapping", ["connection_id"])


def downgrade() -> None:
    op.drop_index("ix_group_mapping_connection_id", table_name="group_mapping")
    op.drop_table("group_mapping")
