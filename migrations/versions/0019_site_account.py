"""site-admin verdicts of accounts, remembered between drift reconciles

Revision ID: 0019
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_account",
        sa.Column("connection_id", sa.Integer(),
                  sa.ForeignKey("connection.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("site_admin", sa.Boolean(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("site_account")
