"""manual schedule: connections meant to run on demand store "manual" instead of NULL

Revision ID: 0012
Revises: 0007
"""

from alembic import op

revision = "0012"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL used to mean "manual", but the column's insert default replaced it with "hour";
    # rows still NULL were set to manual by an update, so they keep that meaning explicitly.
    op.execute("UPDATE connection SET schedule = 'manual' WHERE schedule IS NULL")


def downgrade() -> None:
    op.execute("UPDATE connection SET schedule = NULL WHERE schedule = 'manual'")
