"""Each category of the one error tree drives its own behaviour in the executor.

The target here plays the Atlassian site (the boundary); the executor, the membership
writer and the link store are the product's own code.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import extensions
from app.models import Change, Link, SyncRun
from tests.sync import rows
from workers.atlassian.errors import (
    AtlassianError,
    AuthError,
    BadRequestError,
    ConflictError,
    LicenceExceededError,
    MissingCredentialError,
    NotFoundError,
    PermissionDenied,
    QuotaExhaustedError,
    TransientError,
    error_for_status,
)
from workers.atlassian.memberships import MembershipOp, MembershipResult, apply_all
from workers.errors import Category, Stop, SyncError, category_of
from workers.sources.base import (
    SourceAuthError,
    SourceConfigError,
    SourceError,
    SourceNotFound,
    SourcePermissionError,
    SourceUnreachable,
)
from workers.sources.http_errors import SourceTransientError
from workers.sync import linkstore
from workers.sync.executor import DEFERRED, Executor
from workers.sync.plan import ADD_MEMBER, SUSPEND_ACCESS, Op, Plan


class ScriptedSite:
    """Answers each write with the error scripted for its group or account, else success."""

    concurrency = 2

    def __init__(self, errors: dict[str, AtlassianError]) -> None:
        self.errors = errors
        self.calls: list[tuple[str, str]] = []

    def _answer(self, key: str) -> None:
        self.calls.append(("write", key))
        if key in self.errors:
            raise self.errors[key]

    def add_member(self, group_id: str, account_id: str) -> None:
        self._answer(group_id)

    def remove_member(self, group_id: str, account_id: str) -> None:
        self._answer(group_id)

    def apply_memberships(self, ops: list[MembershipOp]) -> list[MembershipResult]:
        return apply_all(self, ops, 1)  # one thread: the order of calls is the plan's

    def suspend_access(self, account_id: str) -> None:
        self._answer(account_id)

    def restore_access(self, account_id: str) -> None:
        self._answer(account_id)


@pytest.fixture()
def run(app) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(connection id, run id) of a fresh run, with links to groups g1..g3 and account a1."""
    with extensions.db.session() as s:
        conn = rows.connection(s, "categories")
        for n in (1, 2, 3):
            linkstore.save(s, conn.id, linkstore.GROUP, f"idp-g{n}", f"g{n}")
        linkstore.save(s, conn.id, linkstore.USER, "idp-u1", "a1")
        sync_run = SyncRun(connection_id=conn.id, trigger="manual", dry_run=False,
                           status="running", counts={})
        s.add(sync_run)
        s.flush()
        return conn.id, sync_run.id


def _apply(run: tuple[int, int], site: ScriptedSite, ops: list[Op]):  # type: ignore[no-untyped-def]
    cid, rid = run
    with extensions.db.session() as s:
        links = linkstore.load(s, cid)
    return Executor(extensions.db, rid, cid, site, links).apply(Plan(ops=ops))


def _outcomes(run_id: int) -> list[tuple[str | None, str]]:
    with extensions.db.session() as s:
        return [(c.group_id or c.account_id, c.outcome) for c in s.scalars(
            select(Change).where(Change.run_id == run_id).order_by(Change.seq))]


def _links(cid: int) -> set[str]:
    with extensions.db.session() as s:
        return set(s.scalars(select(Link.atlassian_id).where(Link.connection_id == cid)))


def _adds(*groups: str) -> list[Op]:
    return [Op(ADD_MEMBER, group_id=g, account_id="a1") for g in groups]


def test_bad_request_and_transient_are_recorded_and_the_run_goes_on(run) -> None:  # type: ignore[no-untyped-def]
    site = ScriptedSite({"g1": BadRequestError("add_member", "bad", status=400),
                         "g2": TransientError("add_member", "busy", status=503)})
    outcome = _apply(run, site, _adds("g1", "g2", "g3"))
    assert _outcomes(run[1]) == [("g1", "failed"), ("g2", "failed"), ("g3", "applied")]
    assert outcome.stopped_by is None and outcome.status == "partially_failed"
    assert _links(run[0]) == {"g1", "g2", "g3", "a1"}  # nothing forgotten


def test_not_found_forgets_the_stale_link_so_the_next_run_relinks(run) -> None:  # type: ignore[no-untyped-def]
    site = ScriptedSite({"g2": NotFoundError("add_member", "not found", status=404),
                         "a1": NotFoundError("suspend_access", "not found", status=404)})
    _apply(run, site, [*_adds("g1", "g2", "g3"), Op(SUSPEND_ACCESS, account_id="a1")])
    assert _outcomes(run[1]) == [("g1", "applied"), ("g2", "failed"), ("g3", "applied"),
                                 ("a1", "failed")]
    assert _links(run[0]) == {"g1", "g3"}


@pytest.mark.parametrize("error", [
    AuthError("add_member", "refused", status=401),
    PermissionDenied("add_member", "may not", status=403),
    MissingCredentialError("add_member", "connect a credential"),
])
def test_stop_ends_the_sending_and_records_the_rest_skipped(run, error) -> None:  # type: ignore[no-untyped-def]
    site = ScriptedSite({"g1": error})
    outcome = _apply(run, site, _adds("g1", "g2", "g3"))
    assert _outcomes(run[1]) == [("g1", "failed"), ("g2", "skipped"), ("g3", "skipped")]
    assert site.calls == [("write", "g1")]  # nothing after the stop was sent
    assert outcome.stopped_by == error.message and outcome.status == "failed"


def test_quota_stops_and_defers_the_run(run) -> None:  # type: ignore[no-untyped-def]
    site = ScriptedSite({"a1": QuotaExhaustedError("suspend_access", "spent", retry_after=600)})
    outcome = _apply(run, site, [Op(SUSPEND_ACCESS, account_id="a1"), *_adds("g1")])
    assert outcome.deferred_for == 600 and outcome.status == DEFERRED
    assert _outcomes(run[1]) == [("a1", "failed"), ("g1", "skipped")]


@pytest.mark.parametrize(("error", "category"), [
    (error_for_status("x", 401, {}), Category.STOP),
    (error_for_status("x", 403, {}), Category.STOP),
    (error_for_status("x", 404, {}), Category.NOT_FOUND),
    (error_for_status("x", 409, {}), Category.BAD_REQUEST),
    (error_for_status("x", 400, {}), Category.BAD_REQUEST),
    (error_for_status("x", 400, {"key": "licenceExceeded"}), Category.BAD_REQUEST),
    (error_for_status("x", 429, {}), Category.TRANSIENT),
    (error_for_status("x", 502, {}), Category.TRANSIENT),
    (QuotaExhaustedError("x", "spent", retry_after=5), Category.STOP),
    (SourceUnreachable("no route"), Category.TRANSIENT),
    (SourceTransientError("busy", status=503), Category.TRANSIENT),
    (SourceAuthError("refused", status=401), Category.STOP),
    (SourcePermissionError("may not", status=403), Category.STOP),
    (SourceConfigError("bad URL"), Category.STOP),
    (SourceNotFound("no realm", status=404), Category.NOT_FOUND),
    (SourceError("odd answer", status=418), Category.BAD_REQUEST),
])
def test_every_error_has_one_category_its_status_and_an_admin_message(error, category) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(error, SyncError) and category_of(error) == category
    assert isinstance(error, Stop) == (category == Category.STOP)
    assert error.message and str(error) == error.message
    if isinstance(error, AtlassianError) and not isinstance(error, QuotaExhaustedError):
        assert error.status == int(error.message.split("HTTP ")[1][:3])


def test_existing_names_keep_their_meaning() -> None:
    assert issubclass(LicenceExceededError, BadRequestError)
    assert issubclass(ConflictError, AtlassianError) and issubclass(MissingCredentialError,
                                                                   PermissionDenied)
    assert category_of(ValueError("a bug")) is None


class CountingSite(ScriptedSite):
    """Records how many membership ops each call carries."""

    def __init__(self) -> None:
        super().__init__({})
        self.sizes: list[int] = []

    def apply_memberships(self, ops: list[MembershipOp]) -> list[MembershipResult]:
        self.sizes.append(len(ops))
        return super().apply_memberships(ops)


def test_a_batch_of_member_additions_goes_out_a_chunk_at_a_time_in_plan_order(run):
    from workers.sync.executor import CHUNK
    from workers.sync.ops import MemberBatch, Ops

    cid, rid = run
    accounts = [f"acc{i}" for i in range(2 * CHUNK + 7)]
    batch = MemberBatch(ADD_MEMBER, "g1", "Eng", None, accounts, [None] * len(accounts), {})
    site = CountingSite()
    with extensions.db.session() as s:
        links = linkstore.load(s, cid)
    plan = Plan(ops=Ops([[Op(SUSPEND_ACCESS, account_id="a1")], batch]))
    outcome = Executor(extensions.db, rid, cid, site, links).apply(plan)
    assert site.sizes == [CHUNK, CHUNK, 7] and outcome.applied == len(accounts) + 1
    with extensions.db.session() as s:
        recorded = list(s.scalars(select(Change.account_id).where(Change.run_id == rid)
                                  .order_by(Change.seq)))
    assert recorded == ["a1", *accounts]
