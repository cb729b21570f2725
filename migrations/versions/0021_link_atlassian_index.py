"""links found by Atlassian id: an index for the link store's saves, forgets and suspensions

Revision ID: 0021
Revises: 0019
"""

from alembic import op

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_link_connection_kind_atlassian", "link",
                    ["connection_id", "kind", "atlassian_id"])


def downgrade() -> None:
    op.drop_index("ix_link_connection_kind_atlassian", table_name="link")
