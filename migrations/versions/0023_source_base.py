"""source_base: the stored IdP base blob in its own row, apart from the cursor and delta a run rewrites; the desired state kept with the base

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_base",
        sa.Column("connection_id", sa.Integer(),
                  sa.ForeignKey("connection.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
    )
    op.execute("INSERT INTO source_base (connection_id, blob) "
               "SELECT connection_id, snapshot FROM source_state WHERE snapshot IS NOT NULL")
    with op.batch_alter_table("source_state") as batch:
        batch.add_column(sa.Column("base_size", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("desired", sa.LargeBinary(), nullable=True))
    op.execute("UPDATE source_state SET base_size = COALESCE((SELECT length(blob) FROM source_base "
               "WHERE source_base.connection_id = source_state.connection_id), 0)")
    with op.batch_alter_table("source_state") as batch:
        batch.drop_column("snapshot")


def downgrade() -> None:
    with op.batch_alter_table("source_state") as batch:
        batch.add_column(sa.Column("snapshot", sa.LargeBinary(), nullable=True))
    op.execute("UPDATE source_state SET snapshot = (SELECT blob FROM source_base "
               "WHERE source_base.connection_id = source_state.connection_id)")
    with op.batch_alter_table("source_state") as batch:
        batch.drop_column("base_size")
        batch.drop_column("desired")
    op.drop_table("source_base")
