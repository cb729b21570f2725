"""Applies a plan through the Atlassian client in its written-down order, recording every op.

Ops go out a chunk at a time; each chunk's Change rows, the links its changes created
(a created group, an invited account) and the mirror's update (groups created, members
added or removed) are committed together when the chunk ends. A worker killed mid-chunk
loses at most that chunk's records: the run is closed as interrupted, the next run is a
reconcile that re-reads the site, finds the created groups by name and the invited accounts
by e-mail, and converges without creating or inviting twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby, islice

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.config import DEFAULT_CONCURRENCY
from app.db import Database
from app.models import Change
from app.models.columns import utcnow
from workers.atlassian.memberships import MembershipOp
from workers.errors import NotFound, QuotaExhausted, Stop, SyncError
from workers.sync import linkstore, mirror
from workers.sync.current import concurrent_map
from workers.sync.plan import (
    ADD_MEMBER,
    CREATE_GROUP,
    INVITE_USER,
    LINK_GROUP,
    LINK_USER,
    REMOVE_MEMBER,
    RESTORE_ACCESS,
    SUSPEND_ACCESS,
    Op,
    Plan,
)
from workers.sync.planner import Links
from workers.vocabulary import Outcome as OpOutcome
from workers.vocabulary import RunStatus

APPLIED, FAILED, SKIPPED = OpOutcome.APPLIED, OpOutcome.FAILED, OpOutcome.SKIPPED
Row = tuple[Op, str, str | None, tuple[str, str] | None]
"""(op, outcome, message, resolved (group_id, account_id)) of one recorded op."""
LinkWrite = Callable[[Session], None] | linkstore.Save
"""A change to the links, committed with the chunk's records; saves are made together."""
CHUNK = 250
"""Membership ops sent and recorded per batch: bounds what a killed worker leaves unrecorded."""
# The error's category decides (workers.errors): a Stop (credential, permission, a spent hourly
# quota) ends the sending, a NotFound forgets the stale link, the others are recorded and go on.
STOPPING = Stop
DEFERRED = RunStatus.DEFERRED
"""A run stopped by Atlassian's hourly quota: what was done is recorded, the rest continues
when the quota resets (the connection's `deferred_until`)."""


@dataclass(slots=True)
class Outcome:
    """Counts of a run's op outcomes and the first error that stopped it, if any."""

    applied: int = 0
    failed: int = 0
    skipped: int = 0
    stopped_by: str | None = None
    deferred_for: float | None = None  # seconds until Atlassian's quota resets, if it stopped us
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.deferred_for is not None:
            return DEFERRED
        if self.failed == 0 and self.skipped == 0:
            return RunStatus.SUCCEEDED
        return RunStatus.PARTIALLY_FAILED if self.applied else RunStatus.FAILED


class Executor:
    """One plan, one target, one run: `apply()` returns the Outcome."""

    def __init__(self, db: Database, run_id: int, connection_id: int, target,  # type: ignore[no-untyped-def]
                 links: Links, progress: Callable[[int, int], None] | None = None):
        self.db, self.run_id, self.connection_id, self.target = db, run_id, connection_id, target
        self.links = links
        self.progress = progress or (lambda done, total: None)
        self.refs: dict[str, str] = {}
        self.outcome = Outcome()
        self.seq = 0
        self.done = 0
        self.total = 0

    def apply(self, plan: Plan) -> Outcome:
        self.total = len(plan.ops)
        # The plan is in apply order, so each kind is one run; ops of one kind are
        # independent of each other and go out concurrently, a chunk at a time. The chunks
        # are cut from the plan as it is read: a first sync's millions of member additions
        # become Op tuples a chunk at a time, never all at once.
        for kind, run in groupby(plan.ops, key=lambda op: op.kind):
            send = (self._membership_chunk if kind in (ADD_MEMBER, REMOVE_MEMBER)
                    else self._single_chunk)
            while chunk := list(islice(run, CHUNK)):
                send(chunk)
        return self.outcome

    # -- single ops (groups, links, accounts, access) -----------------------------------
    def _single_chunk(self, ops: list[Op]) -> None:
        concurrency = getattr(self.target, "concurrency", DEFAULT_CONCURRENCY)
        results = concurrent_map(self._attempt, ops, concurrency)
        rows = [row for row, _ in results]
        self._record(rows, [write for _, write in results if write is not None])

    def _attempt(self, op: Op) -> tuple[Row, LinkWrite | None]:
        if self.outcome.stopped_by:
            return (op, SKIPPED, self.outcome.stopped_by, None), None
        try:
            message, write = self._do(op)
        except STOPPING as exc:
            self._stop(exc)
            return (op, FAILED, exc.message, None), None
        except NotFound as exc:
            return (op, FAILED, exc.message, None), self._forget_stale(op)
        except SyncError as exc:
            return (op, FAILED, exc.message, None), None
        except LookupError as exc:
            return (op, SKIPPED, str(exc), None), None
        return (op, APPLIED, message, None), write

    def _do(self, op: Op) -> tuple[str | None, LinkWrite | None]:
        """Make one change; returns a message and the link write to commit with its record."""
        cid = self.connection_id
        if op.kind == CREATE_GROUP:
            group = self.target.create_group(op.group_name)
            self.refs[op.group_ref] = group.group_id
            return group.group_id, None
        if op.kind == LINK_GROUP:
            gid = op.group_id or self._ref(op.group_ref)
            self.links.groups[op.idp_group_id] = gid
            return gid, linkstore.Save(linkstore.GROUP, op.idp_group_id or "", gid)
        if op.kind == LINK_USER:
            self.links.users[op.idp_user_id] = op.account_id
            return op.account_id, linkstore.Save(linkstore.USER, op.idp_user_id or "",
                                                 op.account_id or "")
        if op.kind == INVITE_USER:
            user = self.target.invite_user(op.email, op.display_name or "", list(op.products))
            self.links.users[op.idp_user_id] = user.account_id
            return user.account_id, linkstore.Save(linkstore.USER, op.idp_user_id or "",
                                                   user.account_id)
        if op.kind == RESTORE_ACCESS:
            self.target.restore_access(op.account_id)
            return None, lambda s: linkstore.set_suspended(s, cid, op.account_id, False)
        if op.kind == SUSPEND_ACCESS:
            self.target.suspend_access(op.account_id)
            return None, lambda s: linkstore.set_suspended(s, cid, op.account_id, True)
        raise LookupError(f"unknown op kind {op.kind}")

    def _ref(self, ref: str | None) -> str:
        if ref and ref in self.refs:
            return self.refs[ref]
        raise LookupError("its group was not created in this run")

    # -- memberships, concurrently in chunks -------------------------------------------
    def _membership_chunk(self, ops: list[Op]) -> None:
        rows, sendable, sent_ops = [], [], []
        for op in ops:
            if self.outcome.stopped_by:
                rows.append((op, SKIPPED, self.outcome.stopped_by, None))
                continue
            try:
                gid = op.group_id or self._ref(op.group_ref)
                acc = op.account_id or self.links.users.get(op.idp_user_id or "")
                if not acc:
                    raise LookupError("the account was not linked or invited")
            except LookupError as exc:
                rows.append((op, SKIPPED, str(exc), None))
                continue
            sendable.append(MembershipOp("add" if op.kind == ADD_MEMBER else "remove", gid, acc))
            sent_ops.append(op)
        writes: list[LinkWrite] = []
        for op, result in zip(sent_ops, self.target.apply_memberships(sendable), strict=True):
            resolved = (result.op.group_id, result.op.account_id)
            if result.ok:
                rows.append((op, APPLIED, None, resolved))
            else:
                if isinstance(result.error, STOPPING):
                    self._stop(result.error)
                forget = (self._forget_stale(op, result.op.group_id)
                          if isinstance(result.error, NotFound) else None)
                if forget is not None:
                    writes.append(forget)
                outcome = FAILED if result.attempted else SKIPPED
                rows.append((op, outcome, result.error.message if result.error else None, resolved))
        self._record(rows, writes)

    def _forget_stale(self, op: Op, group_id: str | None = None) -> LinkWrite | None:
        """The site no longer has the linked group or account: drop the link, so the next
        run finds it by name or e-mail again, or creates it (relink)."""
        cid = self.connection_id
        if op.kind in (SUSPEND_ACCESS, RESTORE_ACCESS) and op.account_id:
            kind, atlassian_id = linkstore.USER, op.account_id
        elif op.kind in (ADD_MEMBER, REMOVE_MEMBER) and (group_id or op.group_id):
            kind, atlassian_id = linkstore.GROUP, group_id or op.group_id or ""
        else:
            return None
        return lambda s: linkstore.forget(s, cid, kind, atlassian_id)

    def _stop(self, exc: Exception) -> None:
        if self.outcome.stopped_by:
            return
        self.outcome.stopped_by = getattr(exc, "message", str(exc))
        if isinstance(exc, QuotaExhausted):
            self.outcome.deferred_for = exc.retry_after

    # -- recording -----------------------------------------------------------------------
    def _record(self, rows: list[Row], writes: Sequence[LinkWrite] = ()) -> None:
        """Store the chunk's Change rows and the links its changes created, in one transaction."""
        changes = []
        created: list[tuple[str, str]] = []
        added: list[tuple[str, str]] = []
        removed: list[tuple[str, str]] = []
        tally = {APPLIED: 0, FAILED: 0, SKIPPED: 0}
        by_kind = self.outcome.by_kind
        run_id, refs, seq, now = self.run_id, self.refs, self.seq, utcnow()
        for op, outcome, message, resolved in rows:
            seq += 1
            kind = op.kind
            group_id, account_id = resolved or (op.group_id or refs.get(op.group_ref or ""),
                                                op.account_id)
            before, after = _STATES.get(kind, _NO_STATES)
            changes.append({"run_id": run_id, "seq": seq, "kind": kind,
                            "group_id": group_id, "group_name": op.group_name,
                            "account_id": account_id, "idp_user_id": op.idp_user_id,
                            "email": op.email, "outcome": outcome,
                            "message": message or op.reason or None,
                            "before": before, "after": after, "at": now})
            tally[outcome] += 1
            if outcome == APPLIED:
                by_kind[kind] = by_kind.get(kind, 0) + 1
                if kind == ADD_MEMBER and group_id and account_id:
                    added.append((group_id, account_id))
                elif kind == CREATE_GROUP and group_id:
                    created.append((group_id, op.group_name or ""))
                elif kind == REMOVE_MEMBER and group_id and account_id:
                    removed.append((group_id, account_id))
        self.seq = seq
        for outcome, count in tally.items():
            setattr(self.outcome, outcome, getattr(self.outcome, outcome) + count)
        cid = self.connection_id
        with self.db.session() as session:
            _write_links(session, cid, writes)
            if changes:  # rows to the table, not through the mapper: a first sync records millions
                session.execute(insert(Change.__table__), changes)
            mirror.add_groups(session, cid, created, admin_rights=False)
            mirror.add_members(session, cid, added)
            mirror.remove_members(session, cid, removed)
        self.done += len(rows)
        self.progress(self.done, self.total)


def _write_links(session: Session, connection_id: int, writes: Sequence[LinkWrite]) -> None:
    """Each write in order; a run of saves of one kind goes to the database together."""
    for is_save, run in groupby(writes, key=lambda w: isinstance(w, linkstore.Save)):
        if not is_save:
            for write in run:
                write(session)  # type: ignore[operator]
            continue
        saves: list[linkstore.Save] = list(run)  # type: ignore[arg-type]
        for kind, same in groupby(saves, key=lambda w: w.kind):
            linkstore.save_many(session, connection_id, kind,
                                [(w.idp_id, w.atlassian_id) for w in same])


_STATES = {ADD_MEMBER: ("not member", "member"), REMOVE_MEMBER: ("member", "not member"),
           SUSPEND_ACCESS: ("active", "suspended"), RESTORE_ACCESS: ("suspended", "active"),
           CREATE_GROUP: ("absent", "exists"), INVITE_USER: ("no account", "invited"),
           LINK_USER: ("unlinked", "linked"), LINK_GROUP: ("unlinked", "linked")}


_NO_STATES: tuple[None, None] = (None, None)
