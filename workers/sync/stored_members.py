"""A group's members as a stored base decodes them: the set is built only when something looks inside."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Set, Sized
from itertools import filterfalse
from typing import Any


class StoredMembers(Set[str]):
    """The member ids of one group of a decoded base, read-only, over the tuple the blob held.

    A run after a small change passes most of a base's ten thousand groups along untouched and
    compares them by identity only: building a million-member set for each (a tenth of such a
    run) would be wasted. So the set is made on the first question about its contents
    (`in`, a comparison, a set operation); `len` and iteration answer from the tuple, whose ids
    are distinct because the blob was written from a set. Every answer is a plain `set` or
    `bool`, as the same question put to a `set` would give: a caller never gets the inner set
    to change, and an in-place operator (`|=`) makes a new set instead of changing this one.
    """

    __slots__ = ("_tuple", "_set", "_patch", "_make", "_length", "_packed")

    def __init__(self, ids: tuple[str, ...]) -> None:
        self._tuple: tuple[str, ...] | None = ids
        self._set: set[str] | None = None
        self._patch: tuple[Iterable[str], tuple[str, ...], frozenset[str]] | None = None
        self._make: Callable[[], Iterable[str]] | None = None
        self._length: int | None = None
        self._packed: tuple[bytes, list[str]] | None = None

    @classmethod
    def patched(cls, was: Iterable[str], added: tuple[str, ...],
                removed: frozenset[str]) -> StoredMembers:
        """`was` without `removed` and with `added` (ids `was` lacks), as a stored delta lays
        a group's change over the base: worked out only when first used, so the delta's
        groups that no later step looks at (most, once it has grown over several runs) cost
        nothing."""
        out = cls.__new__(cls)
        out._tuple, out._set, out._patch = None, None, (was, added, removed)
        out._make = out._length = out._packed = None
        return out

    @classmethod
    def packed(cls, data: bytes, names: list[str]) -> StoredMembers:
        """The ids at the positions `data` holds (`pack`'s) in `names`, read out only when
        first used: a run after a small change looks into a tenth of a base's groups."""
        out = cls.__new__(cls)
        out._tuple = out._set = out._patch = out._make = None
        out._length, out._packed = len(data) >> 2, (data, names)
        return out

    def packed_in(self, names: list[str]) -> bytes | None:
        """The packed positions this was made from, when still unread and made over `names`
        (the very list): written again as they are."""
        packed = self._packed
        return packed[0] if packed is not None and packed[1] is names else None

    @classmethod
    def deferred(cls, make: Callable[[], Iterable[str]], length: int) -> StoredMembers:
        """The distinct ids `make()` returns (`length` of them), asked for only when first
        used: a kept desired state's merged and nested targets are worked out again from the
        base only where a run looks into them."""
        out = cls.__new__(cls)
        out._tuple = out._set = out._patch = out._packed = None
        out._make, out._length = make, length
        return out

    @property
    def _ids(self) -> tuple[str, ...]:
        ids = self._tuple
        if ids is None:
            if self._packed is not None:
                ids = unpack(*self._packed)
                self._packed = self._length = None
            elif self._make is not None:
                made = self._make()
                if type(made) is set:  # its own set already: not built again
                    self._set = made
                ids = tuple(made)
                self._make = self._length = None
            else:
                was, added, removed = self._patch  # type: ignore[misc]
                ids = tuple([x for x in was if x not in removed]) + added
                self._patch = None
            self._tuple = ids
        return ids

    def _real(self) -> set[str]:
        built = self._set
        if built is None:
            ids = self._ids  # (a deferred set may come with its own set made)
            built = self._set = self._set if self._set is not None else set(ids)
        return built

    def __contains__(self, item: object) -> bool:
        return item in self._real()

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        ids = self._tuple
        if ids is not None:
            return len(ids)
        if self._length is not None:
            return self._length
        if self._patch is not None:  # `delta` writes `removed` from within `was`, `added` from outside
            was, added, removed = self._patch
            return len(was) - len(removed) + len(added)  # type: ignore[arg-type]
        return len(self._ids)

    def __repr__(self) -> str:
        return f"StoredMembers({len(self)} ids)"

    __hash__ = None  # type: ignore[assignment]  # a set is not hashable either

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if isinstance(other, Sized) and len(other) != len(self):
            return False  # most changed groups joined or lost someone: no set needed
        return self._real() == _plain(other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __le__(self, other: Any) -> bool:
        if self._set is None and type(other) in _SETS:
            return len(self) <= len(other) and all(map(other.__contains__, self._ids))
        return self._real() <= _plain(other)

    def __lt__(self, other: Any) -> bool:
        return self._real() < _plain(other)

    def __ge__(self, other: Any) -> bool:
        return self._real() >= _plain(other)

    def __gt__(self, other: Any) -> bool:
        return self._real() > _plain(other)

    # The operators answer with what `set`'s own would: `self op other` as `real op other`,
    # reflected ones (`set op self`, after `set` declined a non-set) as `other op real`. Where
    # one pass over the ids does, no set is built for them (one operation on a group is the
    # common case; a group asked many questions builds its set once).

    def __and__(self, other: Any) -> set[str]:
        if self._set is None and type(other) in _SETS:
            return self._few(other) if len(other) <= _FEW else set(filter(other.__contains__, self._ids))
        return self._real() & _plain(other)

    def __rand__(self, other: Any) -> Any:
        if self._set is None and type(other) in _SETS:
            return type(other)(self._few(other)) if len(other) <= _FEW else other.intersection(self._ids)
        return _plain(other) & self._real()

    def _few(self, other: Iterable[str]) -> set[str]:
        """`self & other` for a handful of ids: each looked for in the tuple (a scan in C)."""
        ids = self._ids
        return {x for x in other if x in ids}

    def __or__(self, other: Any) -> set[str]:
        if self._set is None and type(other) in _SETS:
            out = set(self._ids)
            out.update(other)
            return out
        return self._real() | _plain(other)

    def __ror__(self, other: Any) -> Any:
        if self._set is None and type(other) in _SETS:
            return other.union(self._ids)
        return _plain(other) | self._real()

    def __sub__(self, other: Any) -> set[str]:
        if self._set is None and type(other) in _SETS:
            return set(filterfalse(other.__contains__, self._ids))
        return self._real() - _plain(other)

    def __rsub__(self, other: Any) -> Any:
        if self._set is None and type(other) in _SETS:
            return other.difference(self._ids)
        return _plain(other) - self._real()

    def __xor__(self, other: Any) -> set[str]:
        return self._real() ^ _plain(other)

    def __rxor__(self, other: Any) -> Any:
        return _plain(other) ^ self._real()

    def isdisjoint(self, other: Iterable[Any]) -> bool:
        if self._set is None and type(other) in _SETS:
            return not any(map(other.__contains__, self._ids))
        return self._real().isdisjoint(_plain(other))

    def issubset(self, other: Iterable[Any]) -> bool:
        return self.__le__(other if type(other) in _SETS else set(_plain(other)))

    def issuperset(self, other: Iterable[Any]) -> bool:
        return self._real().issuperset(_plain(other))

    def union(self, *others: Iterable[Any]) -> set[str]:
        out = set(self._ids)
        out.update(*map(_plain, others))
        return out

    def intersection(self, *others: Iterable[Any]) -> set[str]:
        return self._real().intersection(*map(_plain, others))

    def difference(self, *others: Iterable[Any]) -> set[str]:
        return self._real().difference(*map(_plain, others))

    def symmetric_difference(self, other: Iterable[Any]) -> set[str]:
        return self._real().symmetric_difference(_plain(other))

    def copy(self) -> set[str]:
        return set(self._ids)


def pack(ids: Iterable[str], position: dict[str, int], names: list[str]) -> bytes:
    """The positions of `ids` in `names` (`position`: each name's), as `u32_bytes`; an id
    not there yet is added to both."""
    try:
        at = array("I", map(position.__getitem__, ids))
    except KeyError:
        at = array("I")
        for uid in ids:
            where = position.get(uid)
            if where is None:
                where = position[uid] = len(names)
                names.append(uid)
            at.append(where)
    return u32_bytes(at)


class DamagedMembers(Exception):
    """A packed member list points past its ids: the stored base it came from is damaged
    (its frame's checksum passed, so it was written so). Not a ValueError: a source that
    takes a malformed change for the IdP's fault must not catch it."""


def unpack(data: bytes, names: list[str]) -> tuple[str, ...]:
    """The ids `pack` wrote: the very string objects of `names`."""
    try:
        return tuple(map(names.__getitem__, u32_values(data)))
    except IndexError:
        raise DamagedMembers("a stored group's members point past the stored ids") from None


def u32_bytes(values: Iterable[int]) -> bytes:
    """Unsigned 32-bit integers, little-endian whatever the machine (as stored)."""
    at = values if isinstance(values, array) else array("I", values)
    if sys.byteorder == "big":
        at = array("I", at)
        at.byteswap()
    return at.tobytes()


def u32_values(data: bytes) -> array:
    """The integers `u32_bytes` wrote."""
    at = array("I")
    at.frombytes(data)
    if sys.byteorder == "big":
        at.byteswap()
    return at


_FEW = 4
"""Up to this many ids are looked for in the tuple itself: cheaper than a pass over it."""
_SETS = (set, frozenset)
"""The types whose lookups the one-pass operators use (anything else goes through the set)."""


def _plain(value: Any) -> Any:
    """`value`, or the real set of a StoredMembers (so `set`'s fast paths take it)."""
    return value._real() if isinstance(value, StoredMembers) else value
