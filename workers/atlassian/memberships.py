"""Applies many membership adds/removes concurrently, with one outcome recorded for every op."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from workers.atlassian.errors import AtlassianError
from workers.errors import Stop
from workers.threads import run_all

ACTIONS = ("add", "remove")
# Errors that make every later write fail the same way (the Stop category: a refused
# credential, a missing write permission, a spent quota): stop sending, record the rest.
STOPPING = Stop


@dataclass(frozen=True, slots=True)
class MembershipOp:
    action: str  # "add" | "remove"
    group_id: str
    account_id: str

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be add or remove, not {self.action!r}")


@dataclass(frozen=True, slots=True)
class MembershipResult:
    """What happened to one op: done, failed (with the error), or not attempted (and why)."""

    op: MembershipOp
    ok: bool
    attempted: bool = True
    error: AtlassianError | None = None

    @property
    def outcome(self) -> str:
        return "done" if self.ok else ("failed" if self.attempted else "skipped")


class MembershipWriter(Protocol):
    def add_member(self, group_id: str, account_id: str) -> None: ...

    def remove_member(self, group_id: str, account_id: str) -> None: ...


def apply_all(writer: MembershipWriter, ops: list[MembershipOp],
              concurrency: int) -> list[MembershipResult]:
    """Run `ops` on `concurrency` threads; results line up with `ops`.

    Per-op errors (not found, bad request, retries exhausted) are recorded and the rest go
    on. An auth failure or a missing write credential stops new sends: the ops not yet
    sent are returned as not attempted, carrying that error, so nothing is silently lost.
    """
    stop = _Stop()

    def run(op: MembershipOp) -> MembershipResult:
        if stop.error is not None:
            return MembershipResult(op, ok=False, attempted=False, error=stop.error)
        try:
            if op.action == "add":
                writer.add_member(op.group_id, op.account_id)
            else:
                writer.remove_member(op.group_id, op.account_id)
        except STOPPING as exc:
            stop.set(exc)
            return MembershipResult(op, ok=False, error=exc)
        except AtlassianError as exc:
            return MembershipResult(op, ok=False, error=exc)
        return MembershipResult(op, ok=True)

    return run_all(run, ops, concurrency, name="atlassian-write")


class _Stop:
    """The first stopping error, shared by the worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.error: AtlassianError | None = None

    def set(self, error: AtlassianError) -> None:
        with self._lock:
            if self.error is None:
                self.error = error
