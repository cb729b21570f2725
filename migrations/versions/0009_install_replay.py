"""install replay guard: used lifecycle tokens, install iat, confirmed baseUrl

Revision ID: 0009
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_lifecycle_token",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_used_lifecycle_token"),
    )
    op.create_index("ix_used_lifecycle_token_expires_at", "used_lifecycle_token", ["expires_at"])
    with op.batch_alter_table("installation") as batch:
        batch.add_column(sa.Column("install_iat", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("confirmed_base_url", sa.String(255), nullable=True))
    # Installations made before this revision keep the baseUrl they were installed with.
    op.execute("UPDATE installation SET confirmed_base_url = base_url")


def downgrade() -> None:
    with op.batch_alter_table("installation") as batch:
        batch.drop_column("confirmed_base_url")
        batch.drop_column("install_iat")
    op.drop_index("ix_used_lifecycle_token_expires_at", table_name="used_lifecycle_token")
    op.drop_table("used_lifecycle_token")
