"""installation: the sites that installed the app

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "installation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_key", sa.String(255), nullable=False),
        sa.Column("product_type", sa.String(32), nullable=False),
        sa.Column("base_url", sa.String(255), nullable=False),
        sa.Column("display_url", sa.String(255), nullable=True),
        sa.Column("shared_secret_encrypted", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uninstalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_installation"),
    )
    op.create_index("ix_installation_client_key", "installation", ["client_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_installation_client_key", table_name="installation")
    op.drop_table("installation")
