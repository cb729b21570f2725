"""links found by Atlassian id; change loses its run_id index (ix_change_run_id_id leads with it)

The link store searches links by Atlassian id on every save, forget and suspension; without
an index each search read all of a connection's links. A Change row kept three indexes up to
date, one of them a prefix of another: a first sync writes millions of rows.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_link_connection_kind_atlassian", "link",
                    ["connection_id", "kind", "atlassian_id"])
    op.drop_index("ix_change_run_id", table_name="change")


def downgrade() -> None:
    op.create_index("ix_change_run_id", "change", ["run_id"])
    op.drop_index("ix_link_connection_kind_atlassian", table_name="link")
