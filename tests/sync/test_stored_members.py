"""`StoredMembers` answers every set question as the `set` of the same ids would, on either side."""

from __future__ import annotations

import operator

from hypothesis import given
from hypothesis import strategies as st

from workers.sync import snapshots
from workers.sync.model import Group, Snapshot, User
from workers.sync.stored_members import StoredMembers

IDS = st.lists(st.sampled_from([f"u{i}" for i in range(12)]), unique=True, max_size=12)
KINDS = ("set", "frozenset", "stored", "stored-built", "keys", "deferred", "deferred-set",
         "patched")


def made(ids: list[str], kind: str):
    if kind == "set":
        return set(ids)
    if kind == "frozenset":
        return frozenset(ids)
    if kind == "keys":
        return dict.fromkeys(ids).keys()
    if kind in ("deferred", "deferred-set"):  # worked out when first used, its length known
        whole = tuple(ids) if kind == "deferred" else set(ids)
        return StoredMembers.deferred(lambda: whole, len(ids))
    if kind == "patched":  # a delta laid over: the first half kept, one id gone, the rest added
        half, rest = ids[:len(ids) // 2 + 1], ids[len(ids) // 2 + 1:]
        return StoredMembers.patched(StoredMembers(tuple(half + ["gone"])), tuple(rest),
                                     frozenset({"gone"}))
    stored = StoredMembers(tuple(ids))
    if kind == "stored-built":
        assert ids[0] in stored if ids else True  # its set now built
    return stored


BINARY = [operator.and_, operator.or_, operator.sub, operator.xor, operator.eq, operator.ne,
          operator.le, operator.lt, operator.ge, operator.gt]


MINE = ("stored", "stored-built", "deferred", "deferred-set", "patched")


@given(IDS, IDS, st.sampled_from(KINDS), st.sampled_from(MINE))
def test_operators_on_either_side_answer_as_sets_do(a, b, other_kind, kind):
    for op in BINARY:
        want = op(set(a), set(b))
        mine, other = made(a, kind), made(b, other_kind)
        assert op(mine, other) == want, op
        assert op(other, made(a, kind)) == op(set(b), set(a)), op
        if isinstance(want, set):
            got = op(mine, other)
            assert isinstance(got, set | frozenset) and not isinstance(got, StoredMembers)
    assert set(made(a, kind)) == set(a) and len(made(a, kind)) == len(a)


@given(IDS, IDS, st.sampled_from(KINDS + ("list",)), st.sampled_from(MINE))
def test_methods_take_any_iterable_as_sets_do(a, b, other_kind, kind):
    other = list(b) if other_kind == "list" else made(b, other_kind)
    for name in ("isdisjoint", "issubset", "issuperset", "union", "intersection", "difference",
                 "symmetric_difference"):
        assert getattr(made(a, kind), name)(other) == getattr(set(a), name)(set(b)), name
    assert made(a, kind).copy() == set(a)
    for uid in b:
        assert (uid in made(a, kind)) == (uid in a)


@given(IDS, IDS)
def test_nothing_changes_the_stored_ids(a, b):
    stored = StoredMembers(tuple(a))
    kept = set(stored)
    copy = set(b)
    copy |= stored
    copy -= stored
    out = stored | set(b)
    out.add("new")
    result = stored & set(b)
    result.add("another")
    mine = stored
    mine |= {"x"}  # a new set, as for a frozenset: the stored one stays
    assert set(stored) == kept and "new" not in stored and "x" not in stored
    assert hash(frozenset(stored)) == hash(frozenset(kept))


def test_a_decoded_base_holds_stored_members_and_writes_their_tuples_again():
    snap = Snapshot(users={u: User(u, f"{u}@x.com") for u in ("a", "b", "c")},
                    groups={"g": Group("g", "G"), "h": Group("h", "H")},
                    members={"g": {"a", "b"}, "h": set()})
    decoded = snapshots.decode(snapshots.encode(snap), "cursor")
    assert all(isinstance(ids, StoredMembers) for ids in decoded.members.values())
    assert decoded.members == snap.members
    again = snapshots.decode(snapshots.encode(decoded, decoded=decoded), "cursor")
    assert again.members == snap.members
    # the ids are the users' own strings, in the blob and after it
    assert all(m is decoded.users[m].id for m in decoded.members["g"])


def test_a_deferred_set_is_worked_out_once_and_not_for_its_length():
    calls = []

    def make() -> set[str]:
        calls.append(1)
        return {"a", "b"}

    members = StoredMembers.deferred(make, 2)
    assert len(members) == 2 and not calls
    assert "a" in members and members == {"a", "b"} and sorted(members) == ["a", "b"]
    assert calls == [1]
