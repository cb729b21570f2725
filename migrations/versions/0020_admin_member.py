"""members of the site's admin-named groups, read at the reconcile; the stored IdP base's delta; the suspended-links index

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_member",
        sa.Column("connection_id", sa.Integer(),
                  sa.ForeignKey("connection.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("group_id", sa.String(128), primary_key=True),
    )
    with op.batch_alter_table("connection") as batch:
        batch.add_column(sa.Column("admin_members_read_at", sa.DateTime(timezone=True),
                                   nullable=True))
    op.create_index("ix_link_connection_suspended", "link", ["connection_id", "suspended"])
    with op.batch_alter_table("source_state") as batch:
        batch.add_column(sa.Column("delta", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_index("ix_link_connection_suspended", "link")
    with op.batch_alter_table("source_state") as batch:
        batch.drop_column("delta")
    with op.batch_alter_table("connection") as batch:
        batch.drop_column("admin_members_read_at")
    op.drop_table("admin_member")
