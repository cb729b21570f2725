"""connection.kind: the SCIM push kind is named after its module, scim → scim_push

Revision ID: 0018
Revises: 0014
"""

from alembic import op

revision = "0018"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the pull kind was already scim_pull; only the push kind's stored name changes
    op.execute("UPDATE connection SET kind = 'scim_push' WHERE kind = 'scim'")


def downgrade() -> None:
    op.execute("UPDATE connection SET kind = 'scim' WHERE kind = 'scim_push'")
