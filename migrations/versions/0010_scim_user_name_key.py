"""scim_user_name_key: userName keys become NFC, case-folded and trimmed

Revision ID: 0010
Revises: 0009

The unique index on (connection_id, user_name_key) stays; what changes is the key. Existing
rows are re-keyed. Where two stored users of a connection now share a key, one keeps it (the
one whose key was already that text, else the oldest) and the others keep their old key:
nothing is deleted, and the IdP resolves the duplicate when it next writes one of them (409).
"""

import unicodedata
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

MAX_KEY = 255
USERS = sa.table("scim_user", sa.column("pk", sa.Integer), sa.column("connection_id", sa.Integer),
                 sa.column("user_name", sa.String), sa.column("user_name_key", sa.String))


def user_name_key(user_name: str) -> str:
    """As app/scim/names.py on the day of this migration (a migration never imports the app)."""
    folded = unicodedata.normalize("NFC", user_name.strip()).casefold()
    return unicodedata.normalize("NFC", folded)


def _rekey(new_key) -> None:  # type: ignore[no-untyped-def]
    bind = op.get_bind()
    rows = bind.execute(sa.select(USERS.c.pk, USERS.c.connection_id, USERS.c.user_name,
                                  USERS.c.user_name_key).order_by(USERS.c.pk)).all()
    sharing: dict[tuple[int, str], list] = defaultdict(list)
    for row in rows:
        sharing[(row.connection_id, new_key(row.user_name))].append(row)
    for (_, key), holders in sharing.items():
        if len(key) > MAX_KEY or any(row.user_name_key == key for row in holders):
            continue
        bind.execute(sa.update(USERS).where(USERS.c.pk == holders[0].pk)
                     .values(user_name_key=key))


def upgrade() -> None:
    _rekey(user_name_key)


def downgrade() -> None:
    _rekey(str.lower)
