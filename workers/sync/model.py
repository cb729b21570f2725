"""Neutral snapshot types: what any IdP source hands to the sync engine (no SDK types past a source)."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import NamedTuple


class User(NamedTuple):
    """A person in the IdP. `id` is the IdP's immutable id, never the e-mail.

    A named tuple, not a dataclass: a stored snapshot decodes into a hundred thousand of
    them on every run that changed something, and a tuple is made from its row in one step
    (a frozen dataclass sets each field through `object.__setattr__`, five times as long)."""

    id: str
    email: str
    display_name: str = ""
    active: bool = True


def users_from_rows(rows: Iterable[tuple[str, str, str, bool]]) -> dict[str, User]:
    """Users by id from (id, email, display_name, active) rows, equal to `User(*row)` each.
    A row of another length is a ValueError (a damaged blob), not a user missing a field."""
    rows = rows if isinstance(rows, list | tuple) else list(rows)
    if not set(map(len, rows)) <= {_USER_FIELDS}:
        raise ValueError("a stored user row has the wrong number of fields")
    new = tuple.__new__
    return {row[0]: new(User, row) for row in rows}


_USER_FIELDS = len(User._fields)


@dataclass(frozen=True, slots=True)
class Group:
    """A group in the IdP; `parent_ids` are the IdP ids of the groups that contain it."""

    id: str
    name: str
    parent_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class Snapshot:
    """Everything one fetch saw.

    `members` maps a group id to the ids of its *direct* user members; in a snapshot decoded
    from a stored base they are read-only (`StoredMembers`, built on first look), so a change
    read copies a group's set before changing it (`copy_snapshot`, `own_members`). `complete` is False
    when any page failed after retries: the guard then forbids every removal. `cursor` is
    the source's token for the next incremental fetch (None when it has none).
    """

    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    members: dict[str, AbstractSet[str]] = field(default_factory=dict)
    complete: bool = True
    errors: list[str] = field(default_factory=list)
    cursor: str | None = None
    incremental: bool = False
    """True when built from the IdP's changes on top of an earlier snapshot, not a full read."""
    names: list[str] | None = field(default=None, repr=False, compare=False)
    """In a snapshot decoded from a stored base: the users' ids in order, then the member ids
    that are no user's, which its packed member sets point into (`snapshots.decode`)."""

    def add_user(self, user: User) -> None:
        self.users[user.id] = user

    def add_group(self, group: Group) -> None:
        self.groups[group.id] = group
        self.members.setdefault(group.id, set())

    def add_member(self, group_id: str, user_id: str) -> None:
        self.members.setdefault(group_id, set()).add(user_id)

    def mark_incomplete(self, reason: str) -> None:
        """Record a failed read; a snapshot that is not complete must never cause removals."""
        self.complete = False
        self.errors.append(reason)

    @property
    def membership_count(self) -> int:
        return sum(len(m) for m in self.members.values())


@dataclass(frozen=True, slots=True)
class UserSlice:
    """What the IdP says now about one user: the user (None when the IdP no longer has them)
    and every group they are a *direct* member of, each with its `parent_ids`.

    A slice is complete for that user: a group not in `groups` is one they are not in."""

    user_id: str
    user: User | None
    groups: tuple[Group, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupSlice:
    """What the IdP says now about one group: the group (None when it is gone) and every
    *direct* user member, complete for that group."""

    group_id: str
    group: Group | None
    members: tuple[User, ...] = ()
