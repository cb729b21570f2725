"""scim: endpoints, tokens, pushed users, e-mails, groups and members

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from migrations.ddl import (
    connection_fk,
    connection_id,
    key,
    moment,
    scim_resource_ids,
    scim_resource_meta,
)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scim_endpoint",
        key(),
        connection_id(),
        sa.Column("endpoint_id", sa.String(64), nullable=False),
        moment("created_at"),
        connection_fk("scim_endpoint"),
        sa.PrimaryKeyConstraint("id", name="pk_scim_endpoint"),
        sa.UniqueConstraint("connection_id", name="uq_scim_endpoint_connection_id"),
        sa.UniqueConstraint("endpoint_id", name="uq_scim_endpoint_endpoint_id"),
    )
    op.create_table(
        "scim_token",
        key(),
        connection_id(),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("hint", sa.String(16), nullable=False),
        moment("created_at"),
        moment("revoked_at", nullable=True),
        moment("last_used_at", nullable=True),
        connection_fk("scim_token"),
        sa.PrimaryKeyConstraint("id", name="pk_scim_token"),
        sa.UniqueConstraint("token_hash", name="uq_scim_token_token_hash"),
    )
    op.create_index("ix_scim_token_connection_id", "scim_token", ["connection_id"])
    op.create_table(
        "scim_user",
        *scim_resource_ids(),
        sa.Column("user_name", sa.String(255), nullable=False),
        sa.Column("user_name_key", sa.String(255), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        *scim_resource_meta(),
        connection_fk("scim_user"),
        sa.PrimaryKeyConstraint("pk", name="pk_scim_user"),
        sa.UniqueConstraint("scim_id", name="uq_scim_user_scim_id"),
        sa.UniqueConstraint("connection_id", "user_name_key", name="uq_scim_user_user_name"),
    )
    op.create_index("ix_scim_user_connection_id", "scim_user", ["connection_id"])
    op.create_index("ix_scim_user_connection_external", "scim_user",
                    ["connection_id", "external_id"])
    op.create_table(
        "scim_user_email",
        key(),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(320), nullable=False),
        sa.Column("value_key", sa.String(320), nullable=False),
        sa.Column("type", sa.String(64), nullable=True),
        sa.Column("primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_pk"], ["scim_user.pk"],
                                name="fk_scim_user_email_user_pk_scim_user", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_scim_user_email"),
    )
    op.create_index("ix_scim_user_email_user_pk", "scim_user_email", ["user_pk"])
    op.create_index("ix_scim_user_email_value_key", "scim_user_email", ["value_key"])
    op.create_table(
        "scim_group",
        *scim_resource_ids(),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("display_name_key", sa.String(255), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=True),
        *scim_resource_meta(),
        connection_fk("scim_group"),
        sa.PrimaryKeyConstraint("pk", name="pk_scim_group"),
        sa.UniqueConstraint("scim_id", name="uq_scim_group_scim_id"),
    )
    op.create_index("ix_scim_group_connection_id", "scim_group", ["connection_id"])
    op.create_index("ix_scim_group_connection_display", "scim_group",
                    ["connection_id", "display_name_key"])
    op.create_index("ix_scim_group_connection_external", "scim_group",
                    ["connection_id", "external_id"])
    op.create_table(
        "scim_member",
        key(),
        sa.Column("group_pk", sa.Integer(), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=True),
        sa.Column("child_pk", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["group_pk"], ["scim_group.pk"],
                                name="fk_scim_member_group_pk_scim_group", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_pk"], ["scim_user.pk"],
                                name="fk_scim_member_user_pk_scim_user", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["child_pk"], ["scim_group.pk"],
                                name="fk_scim_member_child_pk_scim_group", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_scim_member"),
        sa.UniqueConstraint("group_pk", "user_pk", name="uq_scim_member_user"),
        sa.UniqueConstraint("group_pk", "child_pk", name="uq_scim_member_child"),
        sa.CheckConstraint("(user_pk IS NULL) <> (child_pk IS NULL)",
                           name=op.f("ck_scim_member_one_member")),
    )
    op.create_index("ix_scim_member_user_pk", "scim_member", ["user_pk"])
    op.create_index("ix_scim_member_child_pk", "scim_member", ["child_pk"])


def downgrade() -> None:
    op.drop_index("ix_scim_member_child_pk", table_name="scim_member")
    op.drop_index("ix_scim_member_user_pk", table_name="scim_member")
    op.drop_table("scim_member")
    op.drop_index("ix_scim_group_connection_external", table_name="scim_group")
    op.drop_index("ix_scim_group_connection_display", table_name="scim_group")
    op.drop_index("ix_scim_group_connection_id", table_name="scim_group")
    op.drop_table("scim_group")
    op.drop_index("ix_scim_user_email_value_key", table_name="scim_user_email")
    op.drop_index("ix_scim_user_email_user_pk", table_name="scim_user_email")
    op.drop_table("scim_user_email")
    op.drop_index("ix_scim_user_connection_external", table_name="scim_user")
    op.drop_index("ix_scim_user_connection_id", table_name="scim_user")
    op.drop_table("scim_user")
    op.drop_index("ix_scim_token_connection_id", table_name="scim_token")
    op.drop_table("scim_token")
    op.drop_table("scim_endpoint")
