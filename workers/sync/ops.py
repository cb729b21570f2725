"""A plan's changes: single ops, and one group's member additions stored once as a batch."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from itertools import chain, islice, repeat
from typing import Any, NamedTuple, overload


class Op(NamedTuple):
    """One change: what the executor needs to make it and what the admin reads about it."""

    kind: str
    group_id: str | None = None
    group_name: str | None = None
    group_ref: str | None = None
    account_id: str | None = None
    idp_user_id: str | None = None
    idp_group_id: str | None = None
    email: str | None = None
    display_name: str | None = None
    products: tuple[str, ...] = ()
    reason: str = ""


_new_tuple = tuple.__new__


class MemberBatch:
    """Ops of one kind for one group, one per member position, kept as columns.

    A first sync adds millions of memberships; an Op tuple each would cost about 130 bytes,
    a batch costs a reference or two per member. The Ops are made when the batch is read.
    `account_ids` None means every member's account is the one this plan links or invites for
    its IdP user; `email_of` gives each IdP user's e-mail, shared by every batch of a plan,
    so a million users' addresses are not copied into every group they are in.
    """

    __slots__ = ("kind", "group_id", "group_name", "group_ref", "account_ids", "idp_user_ids",
                 "email_of", "reason")

    def __init__(self, kind: str, group_id: str | None, group_name: str | None,
                 group_ref: str | None, account_ids: Sequence[str | None] | None,
                 idp_user_ids: Sequence[str | None], email_of: Mapping[str, str | None],
                 reason: str = ""):
        if account_ids is not None and len(account_ids) != len(idp_user_ids):
            raise ValueError("a member batch needs one account per IdP user")
        self.kind, self.group_id, self.group_name, self.group_ref = (kind, group_id, group_name,
                                                                     group_ref)
        self.account_ids, self.idp_user_ids, self.email_of = account_ids, idp_user_ids, email_of
        self.reason = reason

    def __len__(self) -> int:
        return len(self.idp_user_ids)

    def __iter__(self) -> Iterator[Op]:
        head = (self.kind, self.group_id, self.group_name, self.group_ref)
        tail = (None, (), self.reason)  # display_name, products, reason
        accounts = self.account_ids if self.account_ids is not None else repeat(None)
        uids, email = self.idp_user_ids, self.email_of.get
        # Positional tuple building: an Op by keywords would be three times slower.
        return (_new_tuple(Op, (*head, acc, uid, None, email(uid) if uid else None, *tail))
                for acc, uid in zip(accounts, uids, strict=False))  # accounts may be repeat()

    def op(self, index: int) -> Op:
        acc = self.account_ids[index] if self.account_ids is not None else None
        uid = self.idp_user_ids[index]
        return _new_tuple(Op, (self.kind, self.group_id, self.group_name, self.group_ref, acc,
                               uid, None, self.email_of.get(uid) if uid else None, None, (),
                               self.reason))

    def __repr__(self) -> str:
        return (f"MemberBatch({self.kind!r}, group {self.group_id or self.group_ref!r}, "
                f"{len(self)} members)")


class UserEmails(Mapping[str, "str | None"]):
    """IdP user id → e-mail, read through from the users themselves (nothing copied)."""

    __slots__ = ("_users",)

    def __init__(self, users: Mapping[str, Any]):
        self._users = users

    def __getitem__(self, uid: str) -> str | None:
        return self._users[uid].email

    def get(self, uid: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """Mapping's `get` without its KeyError round trip: called for every member op."""
        user = self._users.get(uid)
        return default if user is None else user.email

    def of(self, uids: Iterable[str]) -> dict[str, str | None]:
        """Id → e-mail of the given users (known ones only), in one pass."""
        users = self._users
        return {uid: users[uid].email for uid in uids if uid in users}

    def __len__(self) -> int:
        return len(self._users)

    def __iter__(self) -> Iterator[str]:
        return iter(self._users)


Part = list[Op] | MemberBatch


class Ops(Sequence[Op]):
    """The ops of a plan in apply order: a read-only sequence of Op over lists and batches.

    Iteration, `len`, indexing and comparison with a list behave as for a list of Op.
    """

    __slots__ = ("_parts", "_starts", "_len")

    def __init__(self, parts: Iterable[Part] = ()):
        self._parts: list[Part] = [p for p in parts if len(p)]
        self._starts: list[int] = []
        total = 0
        for part in self._parts:
            self._starts.append(total)
            total += len(part)
        self._len = total

    @classmethod
    def of(cls, ops: Iterable[Op | MemberBatch]) -> Ops:
        """Ops from a mixed list of single ops and batches, in that order."""
        if isinstance(ops, Ops):
            return ops
        parts: list[Part] = []
        for item in ops:
            if isinstance(item, MemberBatch):
                parts.append(item)
            elif parts and isinstance(parts[-1], list):
                parts[-1].append(item)
            else:
                parts.append([item])
        return cls(parts)

    @property
    def parts(self) -> tuple[Part, ...]:
        """The lists of single ops and the member batches, in order (for fast readers)."""
        return tuple(self._parts)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Op]:
        return chain.from_iterable(self._parts)

    @overload
    def __getitem__(self, index: int) -> Op: ...
    @overload
    def __getitem__(self, index: slice) -> list[Op]: ...

    def __getitem__(self, index: int | slice) -> Op | list[Op]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._len)
            if step != 1:
                return list(self)[index]
            return list(islice(self, start, max(start, stop)))
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError("op index out of range")
        at = bisect_right(self._starts, index) - 1
        part, offset = self._parts[at], index - self._starts[at]
        return part.op(offset) if isinstance(part, MemberBatch) else part[offset]

    def kind_counts(self) -> Counter[str]:
        """How many ops of each kind, without making an Op per batched member."""
        counts: Counter[str] = Counter()
        for part in self._parts:
            if isinstance(part, MemberBatch):
                counts[part.kind] += len(part)
            else:
                counts.update(op.kind for op in part)
        return counts

    def groups(self, kinds: Collection[str]) -> set[tuple[str | None, str | None]]:
        """(group_id, group_name) of the ops of `kinds`, one look per batch rather than per
        member: what the guard and the admin-group check need from a first sync's plan."""
        found: set[tuple[str | None, str | None]] = set()
        for part in self._parts:
            if isinstance(part, MemberBatch):
                if part.kind in kinds:
                    found.add((part.group_id, part.group_name))
            else:
                found.update((op.group_id, op.group_name) for op in part if op.kind in kinds)
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ops | list | tuple):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self._len <= 20:
            return repr(list(self))
        return f"<{self._len} ops in {len(self._parts)} parts>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Ops, (self._parts,))
