"""admin API: keyset-paging indexes on runs and changes; connections deleted with history kept

Revision ID: 0013
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connection") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_sync_run_connection_id_id", "sync_run", ["connection_id", "id"])
    op.create_index("ix_change_run_id_id", "change", ["run_id", "id"])
    op.create_index("ix_change_run_id_outcome_id", "change", ["run_id", "outcome", "id"])


def downgrade() -> None:
    op.drop_index("ix_change_run_id_outcome_id", table_name="change")
    op.drop_index("ix_change_run_id_id", table_name="change")
    op.drop_index("ix_sync_run_connection_id_id", table_name="sync_run")
    with op.batch_alter_table("connection") as batch:
        batch.drop_column("deleted_at")
