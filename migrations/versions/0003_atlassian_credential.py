"""atlassian_credential: write credentials handed over by a site admin

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "atlassian_credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("material_encrypted", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["installation_id"], ["installation.id"],
                                name="fk_atlassian_credential_installation_id_installation",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_atlassian_credential"),
        sa.UniqueConstraint("installation_id", "kind",
                            name="uq_atlassian_credential_installation_id"),
    )
    op.create_index("ix_atlassian_credential_installation_id", "atlassian_credential",
                    ["installation_id"])


def downgrade() -> None:
    op.drop_index("ix_atlassian_credential_installation_id", table_name="atlassian_credential")
    op.drop_table("atlassian_credential")
