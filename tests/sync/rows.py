"""Database rows the sync tests start from: an installation with one connection."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import Connection, Installation


def connection(s: Session, client_key: str) -> Connection:
    """A new directory-file connection on a new installation `client_key`, flushed (has an id)."""
    inst = Installation(client_key=client_key, product_type="jira",
                        base_url=f"https://{client_key}.atlassian.net")
    s.add(inst)
    s.flush()
    conn = Connection(installation_id=inst.id, name="c", kind="directory_file", settings={},
                      mapping={}, filters={}, default_groups=[], policy={})
    s.add(conn)
    s.flush()
    return conn
