"""installation: Forge installations beside Connect ones (kind, Forge ids, system token)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("installation") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="connect"))
        batch.add_column(sa.Column("forge_installation_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("cloud_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("api_base_url", sa.String(255), nullable=True))
        batch.add_column(sa.Column("forge_environment", sa.String(32), nullable=True))
        batch.add_column(sa.Column("system_token_encrypted", sa.Text(), nullable=True))
        batch.add_column(sa.Column("system_token_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=True))
        # a site installed through Forge alone has no Connect shared secret
        batch.alter_column("shared_secret_encrypted", existing_type=sa.Text(), nullable=True)
        batch.create_index("ix_installation_forge_installation_id", ["forge_installation_id"],
                           unique=True)
        batch.create_index("ix_installation_cloud_id", ["cloud_id"])


def downgrade() -> None:
    # keep Forge-only sites (and their connections); an empty secret verifies no Connect JWT
    op.execute("UPDATE installation SET shared_secret_encrypted = '' WHERE shared_secret_encrypted IS NULL")
    with op.batch_alter_table("installation") as batch:
        batch.drop_index("ix_installation_cloud_id")
        batch.drop_index("ix_installation_forge_installation_id")
        batch.alter_column("shared_secret_encrypted", existing_type=sa.Text(), nullable=False)
        for column in ("adopted_at", "system_token_expires_at", "system_token_encrypted",
                       "forge_environment", "api_base_url", "cloud_id", "forge_installation_id",
                       "kind"):
            batch.drop_column(column)
