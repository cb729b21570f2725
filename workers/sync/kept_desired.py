"""The desired state of a stored IdP base, kept with it: the next run starts from it instead of mapping the whole base again."""

from __future__ import annotations

import marshal
import zlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import partial

import lz4.frame

from workers.sync.mapping import Desired, DesiredGroup, FedMembers, group_key, holders_of
from workers.sync.model import Snapshot, User
from workers.sync.plan import Notice
from workers.sync.policy import MappingPolicy
from workers.sync.stored_members import StoredMembers, u32_bytes, u32_values

VERSION = 2
"""Layout of a kept desired state, and of the mapping rules it was made by: a blob of another
version is ignored (the base is mapped again), so a release that changes the mapping starts
over once."""
SHARED, SYNCED, FED, LISTED = 0, 1, 2, 3
"""How a target's members are kept: as the base's own set of one IdP group that feeds it, as
the union of what its IdP groups reach in scope (nested groups flattened, members filtered,
groups merged: worked out again from the base when first looked into, as
`mapping.desired_after` does; kept with their count), as every
synced user (a default group), or listed (a default group some IdP group feeds too)."""
MAX_LISTED_FRACTION, MIN_LISTED = 0.1, 10_000
"""Past this share of the base's memberships listed, and more than MIN_LISTED ids, the
desired state is not kept: mapping the base again then costs about what reading the lists
would, and the lists would be written again by every run."""


@dataclass(frozen=True, slots=True)
class Keep:
    """A run's desired state of its snapshot, with what it was made by: the mapping policy
    and the run's basis (the fingerprint of the connection's mapping and policy)."""

    desired: Desired
    policy: MappingPolicy
    basis: str

    def blob(self, snapshot: Snapshot) -> bytes | None:
        """`dump` of it, for `snapshot` as stored."""
        return dump(self.desired, snapshot, self.policy, self.basis)


def dump(desired: Desired, snapshot: Snapshot, policy: MappingPolicy, basis: str,
         listed_fraction: float = MAX_LISTED_FRACTION, min_listed: int = MIN_LISTED) -> bytes | None:
    """The blob `load` makes `desired` from again, given `snapshot` (what `desired` was made
    from), `policy` and `basis`; None when `desired` is not one `mapping.desired` made or
    would list more than `listed_fraction` of the memberships and `min_listed` ids."""
    if desired.fed is None or desired.scope is None or desired.idp_users is not snapshot.users:
        return None
    own, fed = snapshot.members, desired.fed
    # a target fed by IdP groups has what they reach in scope (`mapping.fed_members`), but a
    # default group, which holds every synced user besides
    defaults = {group_key(name) for name in policy.default_groups}
    budget = max(min_listed, listed_fraction * sum(map(len, own.values())))
    members, listed = [], 0
    for key, ids in desired.members.items():
        feeders = fed.get(key, ())
        if len(feeders) == 1:  # the usual target: one IdP group, looked at without a generator
            source = feeders[0] if own.get(feeders[0]) is ids else None
        else:
            source = next((gid for gid in feeders if own.get(gid) is ids), None)
        if source is not None:
            members.append((key, SHARED, source))
        elif fed.get(key) and key not in defaults:
            members.append((key, FED, len(ids)))
        elif len(ids) == len(desired.users) and ids == desired.users.keys():
            members.append((key, SYNCED, None))
        else:
            listed += len(ids)
            if listed > budget:
                return None
            members.append((key, LISTED, tuple(ids)))
    doc = (VERSION, basis,
           [(k, g.name, g.idp_group_ids, g.default, g.explicit) for k, g in desired.groups.items()],
           members, _subset(desired.users, snapshot.users), [tuple(n) for n in desired.notices],
           list(fed.items()), _subset(desired.scope, snapshot.users),
           _counts(desired) if policy.users.members_only else None)
    return lz4.frame.compress(marshal.dumps(doc, 4), compression_level=0)


def _subset(chosen: Collection[str], users: dict[str, object]) -> tuple[str, list[str] | None]:
    """Some of the snapshot's user ids as ("all", None), ("without", the others) or ("only",
    them in the snapshot's order), whichever is shortest."""
    if len(chosen) == len(users):
        return "all", None
    if 2 * len(chosen) >= len(users):
        return "without", list(users.keys() - chosen)
    return "only", [uid for uid in users if uid in chosen]


def _counts(desired: Desired) -> tuple[int, bytes] | None:
    """`desired.holders` (worked out when it has none: once after a full mapping) as counts
    in the order of `desired.users`, with that order's `_order` to check it by."""
    holders = desired.holders if desired.holders is not None else holders_of(desired)
    if len(holders) != len(desired.users):
        return None  # not a state `mapping.desired` made: its leavers are looked for instead
    try:
        return _order(desired.users), u32_bytes(map(holders.__getitem__, desired.users))
    except KeyError:
        return None


def _holders_kept(kept: tuple[int, bytes] | None,
                  users: dict[str, User]) -> dict[str, int] | None:
    """The holders `_counts` kept, for `users` (the synced users as loaded); None when none
    were kept or `users` is not in the order they were kept in (the next run then finds its
    leavers as without them)."""
    if kept is None:
        return None
    order, data = kept
    counts = u32_values(data)
    if len(counts) != len(users) or _order(users) != order:
        return None
    return dict(zip(users, counts, strict=True))


def _order(ids: Iterable[str]) -> int:
    """A checksum of ids in their order (the same in every process, unlike `hash`)."""
    return zlib.crc32("\0".join(ids).encode("utf-8", "surrogatepass"))


def _chosen(kept: tuple[str, list[str] | None], users: dict[str, User]) -> dict[str, User]:
    """The users `_subset` kept, in the snapshot's order (its own dict when all)."""
    how, ids = kept
    if ids is not None and not users.keys() >= set(ids):
        raise KeyError("a kept user the base lacks")  # not the base this was kept with
    if how == "all":
        return users
    if how == "only":
        return {uid: users[uid] for uid in ids}
    chosen = dict(users)  # a copy without the few others: cheaper than a filtered rebuild
    for uid in ids:
        del chosen[uid]
    return chosen


def load(blob: bytes | None, base: Snapshot, policy: MappingPolicy, basis: str) -> Desired | None:
    """`mapping.desired(base, policy)` from the blob `dump` kept with `base`, or None when
    there is none, it is unreadable, or it was made under another basis or layout."""
    if not blob:
        return None
    try:
        return _load(marshal.loads(lz4.frame.decompress(blob)), base, policy, basis)
    except (RuntimeError, ValueError, EOFError, TypeError, KeyError):  # damaged: map again
        return None


def _load(doc: tuple, base: Snapshot, policy: MappingPolicy, basis: str) -> Desired | None:
    if doc[0] != VERSION or doc[1] != basis:
        return None
    _, _, groups, members, users, notices, fed, scope_kept, holders = doc
    synced_users, fed = _chosen(users, base.users), dict(fed)
    # the users the filter passes, as `mapping.in_scope` found them (it looks at each user)
    scope = set(_chosen(scope_kept, base.users))
    if not {gid for gids in fed.values() for gid in gids} <= base.groups.keys():
        return None  # the base is not the one this was kept with
    # a merged or nested target is worked out again only once something looks into it
    rebuilt = FedMembers(base, fed, scope, policy.flatten_nested)
    synced: set[str] | None = None
    out: dict[str, set[str] | frozenset[str]] = {}
    for key, kind, value in members:
        if kind == SHARED:
            out[key] = base.members[value]
        elif kind == FED:
            out[key] = StoredMembers.deferred(partial(rebuilt, key), value)
        elif kind == SYNCED:
            synced = set(synced_users) if synced is None else synced
            out[key] = synced
        else:
            out[key] = set(value)
    return Desired(
        users=synced_users,
        groups={k: DesiredGroup(name, tuple(gids), default, explicit)
                for k, name, gids, default, explicit in groups},
        members=out, idp_users=base.users, notices=[Notice(*n) for n in notices],
        scope=scope, fed=fed, holders=_holders_kept(holders, synced_users))
