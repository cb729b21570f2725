"""sync engine: link, sync_run, change

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from migrations.ddl import connection_fk, connection_id, key, moment

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link",
        key(),
        connection_id(),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("idp_id", sa.String(255), nullable=False),
        sa.Column("atlassian_id", sa.String(128), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        moment("created_at"),
        connection_fk("link"),
        sa.PrimaryKeyConstraint("id", name="pk_link"),
        sa.UniqueConstraint("connection_id", "kind", "idp_id", name="uq_link_connection_kind_idp"),
    )
    op.create_table(
        "sync_run",
        key(),
        connection_id(),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=True),
        sa.Column("ops_total", sa.Integer(), nullable=False),
        sa.Column("ops_done", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=True),
        sa.Column("approved_by", sa.String(128), nullable=True),
        moment("started_at"),
        moment("finished_at", nullable=True),
        connection_fk("sync_run"),
        sa.PrimaryKeyConstraint("id", name="pk_sync_run"),
    )
    op.create_index("ix_sync_run_connection_id", "sync_run", ["connection_id"])
    op.create_table(
        "change",
        key(),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("group_id", sa.String(128), nullable=True),
        sa.Column("group_name", sa.String(255), nullable=True),
        sa.Column("account_id", sa.String(128), nullable=True),
        sa.Column("idp_user_id", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("before", sa.String(64), nullable=True),
        sa.Column("after", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        moment("at"),
        sa.ForeignKeyConstraint(["run_id"], ["sync_run.id"],
                                name="fk_change_run_id_sync_run", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_change"),
    )
    op.create_index("ix_change_run_id", "change", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_change_run_id", table_name="change")
    op.drop_table("change")
    op.drop_index("ix_sync_run_connection_id", table_name="sync_run")
    op.drop_table("sync_run")
    op.drop_table("link")
