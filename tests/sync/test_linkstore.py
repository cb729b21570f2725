"""The link store: many links saved at once end as if saved one by one, in one read."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from app import extensions
from app.models import Link
from tests.sync import rows
from workers.sync import linkstore


@pytest.fixture()
def cid(app) -> int:  # type: ignore[no-untyped-def]
    with extensions.db.session() as s:
        return rows.connection(s, "links").id


def _links(cid: int, kind: str = linkstore.USER) -> dict[str, str]:
    with extensions.db.session() as s:
        return dict(s.execute(select(Link.idp_id, Link.atlassian_id).where(
            Link.connection_id == cid, Link.kind == kind)).all())


EXISTING = [("u1", "a1"), ("u2", "a2"), ("u3", "a3")]
BATCHES = [
    [("u4", "a4"), ("u5", "a5")],  # new links only
    [("u1", "a9")],  # repoint
    [("u9", "a1")],  # a re-created person takes the account: u1's link goes
    [("u4", "a2"), ("u4", "a4")],  # repointed twice in one batch: the last wins, u2 goes
    [("u6", "a6"), ("u7", "a6")],  # two IdP ids for one new account: the later keeps it
    [("u1", "a2"), ("u2", "a1")],  # a swap
    [("u2", "a2"), ("u2", "a2")],  # the same link twice: nothing changes
]


@pytest.mark.parametrize("batch", BATCHES)
def test_save_many_ends_as_saving_one_by_one(cid: int, batch: list[tuple[str, str]]) -> None:
    with extensions.db.session() as s:
        linkstore.save_many(s, cid, linkstore.USER, EXISTING)
        linkstore.save(s, cid, linkstore.GROUP, "g1", "a1")  # another kind is never touched
    one_by_one = dict(EXISTING)
    for idp_id, account in batch:
        one_by_one = {i: a for i, a in one_by_one.items() if a != account or i == idp_id}
        one_by_one[idp_id] = account
    with extensions.db.session() as s:
        linkstore.save_many(s, cid, linkstore.USER, batch)
    assert _links(cid) == one_by_one
    assert _links(cid, linkstore.GROUP) == {"g1": "a1"}


def test_a_repointed_link_keeps_its_suspended_mark(cid: int) -> None:
    with extensions.db.session() as s:
        linkstore.save(s, cid, linkstore.USER, "u1", "a1")
        linkstore.set_suspended(s, cid, "a1", True)
    with extensions.db.session() as s:
        linkstore.save_many(s, cid, linkstore.USER, [("u1", "a1"), ("u2", "a2")])
        assert linkstore.load(s, cid).suspended == {"a1"}


def test_a_first_sync_chunk_reads_the_links_once(cid: int) -> None:
    """250 new links (an executor chunk): two reads, not a search and a delete per link."""
    pairs = [(f"u{n}", f"a{n}") for n in range(250)]
    reads: list[str] = []
    engine = extensions.db.engine

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("SELECT", "DELETE")):
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with extensions.db.session() as s:
            linkstore.save_many(s, cid, linkstore.USER, pairs)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(reads) == 2  # 500 ids in two slices of the bound-parameter limit
    assert _links(cid) == dict(pairs)


def test_a_chunk_writes_one_statement_per_kind_of_change(cid: int) -> None:
    """A link taken over, one repointed and new ones: a delete, an update and an insert."""
    with extensions.db.session() as s:
        linkstore.save_many(s, cid, linkstore.USER, EXISTING)
    batch = [("u9", "a1"), ("u2", "a7"), ("u5", "a5"), ("u6", "a6")]
    statements: list[str] = []
    engine = extensions.db.engine

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement.lstrip().split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        with extensions.db.session() as s:
            linkstore.save_many(s, cid, linkstore.USER, batch)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert sorted(statements) == ["DELETE", "INSERT", "SELECT", "SELECT", "UPDATE"]
    assert _links(cid) == {"u2": "a7", "u3": "a3", "u9": "a1", "u5": "a5", "u6": "a6"}


def test_suspending_marks_only_that_accounts_user_links(cid: int) -> None:
    with extensions.db.session() as s:
        linkstore.save_many(s, cid, linkstore.USER, [("u1", "a1"), ("u2", "a2")])
        linkstore.save(s, cid, linkstore.GROUP, "g1", "a1")
        linkstore.set_suspended(s, cid, "a1", True)
    with extensions.db.session() as s:
        assert linkstore.load(s, cid).suspended == {"a1"}
        assert s.scalars(select(Link.idp_id).where(Link.suspended.is_(True))).all() == ["u1"]
        linkstore.set_suspended(s, cid, "a1", False)
    with extensions.db.session() as s:
        assert linkstore.load(s, cid).suspended == set()
