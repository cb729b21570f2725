"""IdP records into neutral types, with the one policy for a malformed record.

In a full or change read a malformed record is skipped and counted in the snapshot's errors,
and the snapshot is marked incomplete (so the guard forbids removals). In a one-user or
one-group read nothing may be skipped silently (a skipped member would read as "removed"), so
a malformed record is a SourceError and the targeted read fails instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from workers.sources.base import SourceError
from workers.sync.model import Group, GroupSlice, Snapshot, UserSlice

R = TypeVar("R")
T = TypeVar("T")

MALFORMED = (KeyError, TypeError, ValueError, AttributeError)
"""What reading a field of an unexpected shape raises."""


def apply_changes(snapshot: Snapshot, apply: Callable[[], None], what: str,
                  cursor: str) -> Snapshot:
    """`snapshot` with the IdP's changes applied by `apply` and moved to `cursor`; a malformed
    change (`what` the IdP sent) marks it incomplete instead, so the next sync reads everything."""
    try:
        apply()
    except MALFORMED as exc:
        snapshot.mark_incomplete(f"{what} ({type(exc).__name__}: {exc}); the next sync reads "
                                 f"everything again")
        return snapshot
    snapshot.cursor = cursor
    return snapshot


def skip_malformed(snapshot: Snapshot, what: str, why: str, item: Any = "") -> None:
    """Skip one record: counted among the errors, and the snapshot is no longer complete."""
    shown = f": {str(item)[:120]}" if item != "" else ""
    snapshot.mark_incomplete(f"skipped a malformed {what} record ({why}){shown}")


def convert(items: Iterable[Any], to_model: Callable[[Any], R], snapshot: Snapshot,
            what: str) -> Iterator[R]:
    """`to_model` over IdP records; a malformed record is skipped and marks the snapshot incomplete."""
    for item in items:
        try:
            yield to_model(item)
        except MALFORMED as exc:
            skip_malformed(snapshot, what, f"{type(exc).__name__}: {exc}", item)


def strict(to_model: Callable[[Any], R], item: Any, what: str, label: str = "The IdP") -> R:
    """`to_model(item)` for a targeted read: a malformed record is a SourceError."""
    try:
        return to_model(item)
    except MALFORMED as exc:
        raise SourceError(f"{label} sent a malformed {what} record ({type(exc).__name__}: "
                          f"{exc}): {str(item)[:120]}") from None


def every(results: Iterable[tuple[T, R | None, SourceError | None]]) -> list[tuple[T, R]]:
    """The (item, result) pairs of a concurrent map for a targeted read: the first error raises."""
    out: list[tuple[T, R]] = []
    for item, result, error in results:
        if error is not None:
            raise error
        out.append((item, result))  # type: ignore[arg-type]
    return out


def user_slice(snapshot: Snapshot, user_id: str) -> UserSlice:
    """One user and their direct groups, cut from a whole snapshot (sources that read all anyway)."""
    user = snapshot.users.get(user_id)
    if user is None:
        return UserSlice(user_id, None)
    groups = tuple(snapshot.groups[gid] for gid, ids in snapshot.members.items()
                   if user_id in ids and gid in snapshot.groups)
    return UserSlice(user_id, user, groups)


def group_slice(snapshot: Snapshot, group_id: str) -> GroupSlice:
    """One group and its direct user members, cut from a whole snapshot."""
    group = snapshot.groups.get(group_id)
    if group is None:
        return GroupSlice(group_id, None)
    ids = sorted(snapshot.members.get(group_id, ()))
    return GroupSlice(group_id, group, tuple(snapshot.users[i] for i in ids if i in snapshot.users))


def require_complete(snapshot: Snapshot, label: str) -> Snapshot:
    """A slice cut from an incomplete snapshot could miss a membership: refuse it."""
    if not snapshot.complete:
        raise SourceError(f"{label} could not be read completely: {'; '.join(snapshot.errors[:3])}")
    return snapshot


def with_parents(groups: Iterable[tuple[str, str]],
                 parents_of: Callable[[str], list[str]],
                 map_concurrent: Callable[..., list[tuple[str, Any, SourceError | None]]]
                 ) -> tuple[Group, ...]:
    """Groups from (id, name) pairs, each with the parent ids `parents_of` reads (concurrently)."""
    names = dict(groups)
    found = every(map_concurrent(parents_of, list(names)))
    return tuple(Group(gid, names[gid], tuple(sorted(parents))) for gid, parents in found)
