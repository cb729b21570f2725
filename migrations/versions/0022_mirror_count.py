"""mirror_count: each connection's number of mirrored memberships, kept by every mirror write

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Left empty: a connection without a row is counted once, by its next run, and kept since.
    op.create_table(
        "mirror_count",
        sa.Column("connection_id", sa.Integer(),
                  sa.ForeignKey("connection.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("memberships", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mirror_count")
