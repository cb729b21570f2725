"""The stored base of incremental fetches: choose a full or incremental read, and keep what a trusted run saw."""

from __future__ import annotations

import hashlib
import json
import logging
import marshal
import zlib
from collections.abc import Collection
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import lz4.frame
from sqlalchemy.orm import selectinload, undefer_group

from app.db import Database
from app.models import Connection, SourceState, SyncRun
from app.settings import Settings
from app.settings import current as current_settings
from workers.sources.base import PendingChanges, Source, SourceConfigError, SourceError
from workers.sync import kept_desired, mapping, targeted
from workers.sync.model import Group, Snapshot, User, users_from_rows
from workers.sync.scope import Scope
from workers.sync.stored_members import StoredMembers, pack

log = logging.getLogger(__name__)

FULL, INCREMENTAL, TARGETED = "full", "incremental", "targeted"
SCHEMA_VERSION = 1
"""Layout of SourceState.snapshot (the base blob); a stored state of another version is ignored (full read)."""
COMPACT_FRACTION = 0.05
"""A kept snapshot is stored as a delta over the stored base while the delta's blob stays
within this fraction of the base's; past it (and after every full read) the whole snapshot is
stored again and the delta dropped. So a run after a small change encodes only the change.
The delta holds every change since the base, and each run reads and writes it whole: at a
million memberships one 0.1 % change adds about 90 KB to it and 25 ms to every later run,
while storing the base again costs about 0.33 s; a twentieth of the base's 10 MB (every fifth
such run) keeps their sum near its least (a quarter of it, before, let a run carry 2.5 MB of
delta and half a second more)."""
KEPT_STATUSES = ("succeeded", "partially_failed", "preview")
"""Runs whose snapshot may become the next base. Held runs are left out on purpose: the guard
distrusts what they saw, and the older base with its older cursor still covers every change."""
PACKED = b"usersync-base:packed-lz4:"
"""Prefix of a base blob in `encode`'s layout: marshal in an LZ4 frame, members packed."""
LZ4_MARSHALLED = b"usersync-base:marshal-lz4:"
"""Prefix of the layout before it: marshal in an LZ4 frame, member ids as marshal's
references to the users' ids; still read."""
MARSHALLED = b"usersync-base:marshal:"
"""Prefix of the layout before that: marshal in zlib, still read. A blob with no prefix
is the older zlib'd JSON (zlib output never starts with one), still read as it was."""
MARSHAL_VERSION = 4
"""marshal's format, fixed so that a newer Python keeps writing what an older one reads; a
blob marshal cannot read is an unreadable base (a full read), never a crash."""
CURSOR_REJECTED = (400, 410)
"""HTTP answers to a change query that mean the cursor itself is refused (Graph: 410 resync)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetch and where it came from: what `keep` needs to store it after the run."""

    snapshot: Snapshot
    mode: str
    connection_id: int
    settings_hash: str
    full_at: datetime
    incremental_capable: bool
    base: Snapshot | None = None
    """The stored snapshot this one was built on (incremental and targeted reads), else None."""
    stored: Snapshot | None = None
    """The stored base blob as decoded, without its delta (`base` is it with the delta
    applied): `keep` stores the next delta against it."""
    unchanged: bool = False
    """The IdP reported no change since the stored base, which was not loaded: `snapshot` is
    empty but for the new cursor (see `fetch(skip_unchanged=True)`)."""
    kept_desired: bytes | None = None
    """The desired state of `base`, as the run that stored it kept it (`kept_desired`)."""
    changed_users: set[str] | None = None
    """The users new, gone or changed from `base` to `snapshot` (`mapping.changed_keys`),
    found once for the run (None when there is no `base`)."""
    delta_users: set[str] | None = None
    """The users the stored delta changed from `stored` to `base` (None: no `base`): with
    `changed_users`, every user `snapshot` may differ from `stored` in."""
    stored_delta: dict[str, list] | None = None
    """The stored delta's document (`base` is `stored` with it laid over), when there is one."""


class _Base(NamedTuple):
    """A stored base as read back: the snapshot with its delta laid over, and its parts."""

    snapshot: Snapshot
    cursor: str
    stored: Snapshot
    """The base blob alone, without the delta."""
    delta_users: set[str]
    """The ids of the users the delta holds (new, changed or gone)."""
    doc: dict[str, list] | None
    """The delta's document, None when there is none."""


def settings_hash(kind: str, settings: dict[str, Any] | None) -> str:
    """Fingerprint of a connection's kind and non-secret settings (secrets never live there)."""
    text = json.dumps({"kind": kind, "settings": settings or {}}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def max_age_setting(settings: Settings | None = None) -> timedelta:
    """USERSYNC_FULL_FETCH_MAX_AGE_HOURS of `settings` (default: this process's settings)."""
    return timedelta(hours=(settings or current_settings()).full_fetch_max_age_hours)


def choose(state: SourceState | None, *, supports: bool, fingerprint: str, now: datetime,
           max_age: timedelta) -> tuple[str, str]:
    """(mode, why): incremental only on a current, matching, young-enough stored base."""
    if not supports:
        return FULL, "the source reads only in full"
    if state is None or not state.cursor:
        return FULL, "no stored base"
    if state.schema_version != SCHEMA_VERSION:
        return FULL, f"stored base has layout {state.schema_version}"
    if state.settings_hash != fingerprint:
        return FULL, "the connection's settings changed"
    if now - _aware(state.full_at) >= max_age:
        return FULL, f"the last full read is older than {max_age}"
    return INCREMENTAL, "stored base is current"


def fetch(db: Database, run_id: int, source: Source, *, max_age: timedelta | None = None,
          now: datetime | None = None, skip_unchanged: bool = False) -> Fetched:
    """Read the IdP for run `run_id`, incrementally when allowed; records counts["fetch"].

    `skip_unchanged`: the caller needs no snapshot when the IdP reports no change (the last
    run converged on it); the change read is then asked first, and an empty one returns an
    `unchanged` Fetched without decoding the stored base."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        conn = session.get(Connection, session.get(SyncRun, run_id).connection_id)
        fingerprint = settings_hash(conn.kind, conn.settings)
        state = session.get(SourceState, conn.id)
        mode, why = choose(state, supports=source.supports_incremental, fingerprint=fingerprint,
                           now=now, max_age=max_age or max_age_setting())
        cursor = state.cursor if mode == INCREMENTAL else None
        full_at, connection_id = (_aware(state.full_at) if cursor else now), conn.id
    pending: PendingChanges | None = None
    if cursor is not None:
        try:
            pending = source.read_changes(cursor)
        except SourceError as exc:
            if not cursor_rejected(exc):
                raise
            log.info("incremental cursor refused (%s); reading in full", exc.message)
            cursor = None
    if pending is not None and pending.empty and skip_unchanged:
        _record_mode(db, run_id, INCREMENTAL)
        return Fetched(Snapshot(cursor=pending.cursor, incremental=True), INCREMENTAL,
                       connection_id, fingerprint, full_at, source.supports_incremental,
                       unchanged=True)
    # the base blob is read only now: a run the IdP reports no change for never loads it
    base, kept = _stored_base(db, connection_id, cursor) if cursor is not None else (None, None)
    if base is None:
        log.info("run %s: full fetch (%s)", run_id, why if cursor is None else "base unreadable")
        snapshot, mode = source.fetch(), FULL
        full_at = now
    else:
        snapshot, mode = _incremental(source, base.snapshot, base.cursor, pending)
        full_at = now if mode == FULL else full_at
    _record_mode(db, run_id, mode)
    if base is None or mode != INCREMENTAL:
        return Fetched(snapshot, mode, connection_id, fingerprint, full_at,
                       source.supports_incremental)
    return _built(snapshot, mode, connection_id, fingerprint, full_at,
                  source.supports_incremental, base, kept)


def _built(snapshot: Snapshot, mode: str, connection_id: int, fingerprint: str,
           full_at: datetime, capable: bool, base: _Base, kept: bytes | None) -> Fetched:
    """A Fetched built on a stored base: whose record changed is looked at once, here."""
    return Fetched(snapshot, mode, connection_id, fingerprint, full_at, capable,
                   base=base.snapshot, stored=base.stored, kept_desired=kept,
                   changed_users=mapping.changed_keys(base.snapshot.users, snapshot.users),
                   delta_users=base.delta_users, stored_delta=base.doc)


def fetch_targeted(db: Database, run_id: int, source: Source, scope: Scope) -> Fetched | None:
    """Read only the users and groups of `scope`, laid over the stored base; None when that
    cannot be done (the source reads no single users, or there is no current base): the run
    then reads as usual."""
    if not source.supports_targeted or scope.empty:
        return None
    with db.session() as session:
        conn = session.get(Connection, session.get(SyncRun, run_id).connection_id)
        fingerprint = settings_hash(conn.kind, conn.settings)
        state = session.get(SourceState, conn.id)
        if (state is None or state.schema_version != SCHEMA_VERSION
                or state.settings_hash != fingerprint or state.snapshot is None):
            return None
        base = _base(state.snapshot, state.delta, state.cursor, state.connection_id)
        full_at, connection_id, kept = _aware(state.full_at), conn.id, state.desired
    if base is None:
        return None
    snapshot = targeted.fetch_scope(source, base.snapshot, scope)
    _record_mode(db, run_id, TARGETED)
    # The base's cursor stays: the next change read covers these changes again, harmlessly.
    return _built(snapshot, TARGETED, connection_id, fingerprint, full_at,
                  source.supports_incremental, base, kept)


def forget(db: Database, run_id: int) -> None:
    """Drop the stored base of the run's connection: its next run reads the IdP in full."""
    with db.session() as session:
        state = session.get(SourceState, session.get(SyncRun, run_id).connection_id)
        if state is not None:
            session.delete(state)


def _record_mode(db: Database, run_id: int, mode: str) -> None:
    with db.session() as session:
        run = session.get(SyncRun, run_id)
        run.counts = {**(run.counts or {}), "fetch": mode}


def _stored_base(db: Database, connection_id: int,
                 cursor: str) -> tuple[_Base | None, bytes | None]:
    """`_base` of the connection's stored state and the desired state kept with it; (None,
    None) when it no longer belongs to `cursor` (then the run reads in full)."""
    with db.session() as session:
        state = session.get(SourceState, connection_id,
                            options=[undefer_group("blobs"), selectinload(SourceState.base)])
        if state is None or state.cursor != cursor or state.snapshot is None:
            return None, None
        blob, delta, kept = state.snapshot, state.delta, state.desired
    return _base(blob, delta, cursor, connection_id), kept


def _base(blob: bytes, delta: bytes | None, cursor: str, connection_id: int) -> _Base | None:
    """The stored base with its delta laid over, or None when unreadable."""
    try:
        stored = decode(blob, cursor)
        if not delta:
            return _Base(stored, cursor, stored, set(), None)
        doc = _delta_doc(delta)
        return _Base(_laid_over(stored, doc), cursor, stored,
                     {row[0] for row in doc["users"]} | set(doc["users_gone"]), doc)
    except (zlib.error, ValueError, KeyError, TypeError, IndexError, EOFError) as exc:
        log.warning("stored base of connection %s is unreadable (%s); reading in full",
                    connection_id, exc)
        return None


def _incremental(source: Source, previous: Snapshot, cursor: str,
                 pending: PendingChanges | None = None) -> tuple[Snapshot, str]:
    """The source's change read (`pending`, when already read); a refused cursor, or the
    source's own fallback, is a full read."""
    try:
        snapshot = (pending.apply(previous) if pending is not None
                    else source.fetch_changes(previous, cursor))
    except SourceError as exc:
        if not cursor_rejected(exc):
            raise
        log.info("incremental cursor refused (%s); reading in full", exc.message)
        return source.fetch(), FULL
    # Sources fall back to a full read by themselves (an expired delta link, a gap in the
    # event log); only a snapshot built on the previous one counts as incremental.
    return snapshot, INCREMENTAL if snapshot.incremental else FULL


def cursor_rejected(exc: SourceError) -> bool:
    """Whether a failed change read means 'start over', not 'the IdP is down or refuses us'."""
    return isinstance(exc, SourceConfigError) or getattr(exc, "status", None) in CURSOR_REJECTED


def keep(db: Database, fetched: Fetched, status: str, trusted: bool,
         unchanged: bool = False, desired: kept_desired.Keep | None = None) -> bool:
    """After a run: store its snapshot as the next base when the run used it successfully.
    `unchanged`: the snapshot equals the stored base, so only the cursor moves on.
    `desired`: the run's desired state of that snapshot, kept with it for the next run."""
    snapshot = fetched.snapshot
    if (not fetched.incremental_capable or status not in KEPT_STATUSES or not trusted
            or not snapshot.complete or snapshot.errors):
        return False
    with db.session() as session:
        state = session.get(SourceState, fetched.connection_id)
        if snapshot.cursor is None:  # the source gave no cursor: an old base must not linger
            if state is not None:
                session.delete(state)
            return False
        if ((unchanged or fetched.unchanged) and state is not None
                and state.settings_hash == fetched.settings_hash):
            state.cursor, state.saved_at = snapshot.cursor, datetime.now(UTC)
            return True
        if fetched.unchanged:  # a stand-in without the directory: never stored as a base
            return False
        if state is None:
            state = SourceState(connection_id=fetched.connection_id)
            session.add(state)
        state.user_count, state.group_count = len(snapshot.users), len(snapshot.groups)
        state.desired = desired.blob(snapshot) if desired is not None else None
        delta = _delta_over(state, fetched)
        if delta is not None:
            state.cursor, state.delta, state.saved_at = snapshot.cursor, delta, datetime.now(UTC)
            return True
        state.schema_version, state.settings_hash = SCHEMA_VERSION, fetched.settings_hash
        state.cursor, state.delta = snapshot.cursor, None
        state.snapshot = encode(snapshot, decoded=fetched.stored)
        state.full_at, state.saved_at = fetched.full_at, datetime.now(UTC)
    return True


def encode(snapshot: Snapshot, decoded: Snapshot | None = None) -> bytes:
    """Linear: positional tuples instead of objects, in marshal, then an LZ4 frame; tagged
    `PACKED`.

    marshal (not pickle: it builds no objects but plain values, so a blob cannot run code)
    holds the users as rows, the groups, and each group's members as one bytes object: the
    positions of its members among the users (then among the member ids that are no user's,
    listed after them), four bytes each. So decoding a million memberships is copying ten
    thousand byte strings; a group's ids are read out of them, as the users' own string
    objects, only when something looks into it (`StoredMembers.packed`), which a run after
    a small change does for a tenth of the groups. `decoded`: a snapshot `decode` made, which
    `snapshot` was built on; a group still unread over the very same users is written as it
    was read. Only this module writes these blobs, into our own database."""
    users = [(u.id, u.email, u.display_name, u.active) for u in snapshot.users.values()]
    names = [row[0] for row in users]
    position = dict(zip(names, range(len(names)), strict=True))
    # the decoded base's own names when the users are still those, in that order
    same = decoded.names if decoded is not None and decoded.names == names else None
    members = []
    for gid, ids in snapshot.members.items():
        data = ids.packed_in(same) if same is not None and type(ids) is StoredMembers else None
        members.append((gid, data if data is not None else pack(ids, position, names)))
    doc = (users, [(g.id, g.name, tuple(g.parent_ids)) for g in snapshot.groups.values()],
           names[len(users):], members)
    # LZ4 at its fastest level, not zlib: it unpacks in a few milliseconds instead of fifty
    # on every run that changed something; the frame's checksum tells a damaged blob from a base.
    return PACKED + lz4.frame.compress(marshal.dumps(doc, MARSHAL_VERSION),
                                       compression_level=0, content_checksum=True)


def _delta_over(state: SourceState, fetched: Fetched) -> bytes | None:
    """The blob of `fetched.snapshot` as a delta over the stored base it was built on, when
    that base is still the one stored and the delta small enough (COMPACT_FRACTION), else None."""
    if (fetched.stored is None or fetched.mode == FULL or not state.base_size
            or state.schema_version != SCHEMA_VERSION
            or state.settings_hash != fetched.settings_hash):
        return None
    users = (fetched.changed_users | fetched.delta_users
             if fetched.changed_users is not None and fetched.delta_users is not None else None)
    since = ((fetched.base, fetched.stored_delta)
             if fetched.base is not None and fetched.stored_delta is not None else None)
    blob = encode_delta(delta(fetched.stored, fetched.snapshot, users=users, since=since))
    return blob if len(blob) <= COMPACT_FRACTION * state.base_size else None


def delta(base: Snapshot, snapshot: Snapshot, users: Collection[str] | None = None,
          since: tuple[Snapshot, dict[str, list]] | None = None) -> dict[str, list]:
    """What `snapshot` changes of `base`: records new or changed, ids gone; a group the base
    has keeps only the members it gained and lost ("members_diff"), a new one all of them
    ("members"). Records a change read did not touch are the base's own objects, so most
    compare by identity. `users`: every user id the two may differ in, when the caller knows
    (then only those are looked at, not each of a hundred thousand). `since`: (the snapshot
    a stored delta over `base` made, that delta's document), when `snapshot` was built on
    it: a group this change left as that snapshot had it keeps its entry as it was, so a
    delta grown over many runs is not worked out again group by group."""
    members, diffs = [], []
    earlier: dict[str, tuple[list, list]] = {}
    prior: dict[str, AbstractSet[str]] = {}
    if since is not None:
        prior = since[0].members
        for entry in since[1]["members"]:
            earlier[entry[0]] = (members, entry)
        for entry in since[1].get("members_diff", ()):
            earlier[entry[0]] = (diffs, entry)
    for gid, ids in snapshot.members.items():
        if gid in earlier and prior.get(gid) is ids:
            into, entry = earlier[gid]
            into.append(entry)
            continue
        was = base.members.get(gid)
        if was is ids or was == ids:
            continue
        if was is None:
            members.append([gid, sorted(ids)])
        else:
            diffs.append([gid, sorted(ids - was), sorted(was - ids)])
    if users is None:
        changed = _changed_values(base.users, snapshot.users)
        users_gone = _gone(base.users, snapshot.users, [u.id for u in changed])
    else:
        changed, users_gone = _changed_among(base.users, snapshot.users, users)
    groups = _changed_values(base.groups, snapshot.groups)
    return {"users": [[u.id, u.email, u.display_name, u.active] for u in changed],
            "users_gone": users_gone,
            "groups": [[g.id, g.name, list(g.parent_ids)] for g in groups],
            "groups_gone": _gone(base.groups, snapshot.groups, [g.id for g in groups]),
            "members": members, "members_diff": diffs,
            "members_gone": _gone(base.members, snapshot.members, [gid for gid, _ in members])}


_MISSING = object()


def _changed_values(old: dict, new: dict) -> list:
    """The values of `new` that `old` lacks or holds otherwise, in `new`'s order."""
    return [v for k, v in new.items() if (o := old.get(k, _MISSING)) is not v and o != v]


def _changed_among(old: dict, new: dict, keys: Collection[str]) -> tuple[list, list[str]]:
    """`_changed_values` and `_gone` of `old` and `new`, given every key they may differ in.
    The values changed in place come out by key, the added ones in `new`'s order (which
    `apply_delta` keeps): a change read appends what it adds, so they are found from the end."""
    changed = sorted(k for k in keys if k in new and k in old
                     and (o := old[k]) is not new[k] and o != new[k])
    added = {k for k in keys if k in new and k not in old}
    order: list[str] = []
    for k in reversed(new):
        if len(order) == len(added):
            break
        if k in added:
            order.append(k)
    return ([new[k] for k in changed] + [new[k] for k in reversed(order)],
            sorted(k for k in keys if k in old and k not in new))


def _gone(old: dict, new: dict, changed: list[str]) -> list[str]:
    """The keys of `old` that `new` lacks, sorted; a pass over `old` only when some key is
    gone (`changed`: the keys `new` changed or added, the added ones telling whether one is)."""
    added = sum(1 for k in changed if k not in old)
    return sorted(old.keys() - new.keys()) if len(new) - added < len(old) else []


def encode_delta(doc: dict[str, list]) -> bytes:
    return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 1)


def apply_delta(base: Snapshot, blob: bytes) -> Snapshot:
    """`base` with the stored delta `blob` laid over it (`base` itself is left as it was)."""
    return _laid_over(base, _delta_doc(blob))


def _delta_doc(blob: bytes) -> dict[str, list]:
    return json.loads(zlib.decompress(blob))


def _laid_over(base: Snapshot, doc: dict[str, list]) -> Snapshot:
    """`base` with a delta's document laid over it. A delta stored before "members_diff"
    existed holds every changed group's members whole."""
    users, groups, members = dict(base.users), dict(base.groups), dict(base.members)
    for uid, email, name, active in doc["users"]:
        users[uid] = User(uid, email, name, bool(active))
    for gid, name, parents in doc["groups"]:
        groups[gid] = Group(gid, name, tuple(parents))
    # member ids share the users' strings (a million memberships, a hundred thousand strings)
    for gid, ids in doc["members"]:
        members[gid] = {_shared_id(users, m) for m in ids}
    for gid, added, removed in doc.get("members_diff", ()):
        was = members.get(gid)
        adding = tuple([_shared_id(users, m) for m in added])
        if was is None:  # not a diff this module wrote over this base: made whole at once
            members[gid] = set(adding)
        else:  # worked out when first looked into: most groups of a grown delta never are
            members[gid] = StoredMembers.patched(was, adding, frozenset(removed))
    for key, table in (("users_gone", users), ("groups_gone", groups), ("members_gone", members)):
        for gone in doc[key]:
            table.pop(gone, None)
    return Snapshot(users=users, groups=groups, members=members, cursor=base.cursor)


def _shared_id(users: dict[str, User], uid: str) -> str:
    """The id object of user `uid`'s record, else `uid` itself."""
    user = users.get(uid)
    return user.id if user is not None else uid


def decode_state(blob: bytes, delta_blob: bytes | None, cursor: str | None) -> Snapshot:
    """The snapshot a SourceState holds: its base blob with its delta, if any, laid over."""
    base = decode(blob, cursor)
    return apply_delta(base, delta_blob) if delta_blob else base


def decode(blob: bytes, cursor: str | None) -> Snapshot:
    """A stored base blob: `encode`'s, or a layout bases were stored in before it."""
    if blob.startswith(PACKED):
        users, groups, others, members = marshal.loads(_unpacked(blob))
        by_id = users_from_rows(users)
        # the users' own id objects, then the member ids that are no user's
        names = [row[0] for row in users] + others
        if not all(type(data) is bytes and not len(data) % 4 for _, data in members):
            raise ValueError("a stored member list is not packed positions")
        packed = StoredMembers.packed
        snapshot = Snapshot(
            users=by_id,
            groups={gid: Group(gid, name, tuple(parents)) for gid, name, parents in groups},
            members={gid: packed(data, names) for gid, data in members}, cursor=cursor)
        snapshot.names = names
        return snapshot
    if blob.startswith(LZ4_MARSHALLED) or blob.startswith(MARSHALLED):
        users, groups, members = marshal.loads(_unpacked(blob))
        # written from User objects: (id, email, name, active) as they were, bool included
        by_id = users_from_rows(users)
        # each group's set is built when first looked into (most never are: `StoredMembers`)
        if not all(type(ids) is tuple for _, ids in members):
            raise ValueError("a stored member list is not a tuple")
        sets = {gid: StoredMembers(ids) for gid, ids in members}
    else:
        doc = json.loads(zlib.decompress(blob))
        users, groups = doc["users"], doc["groups"]
        by_id = {uid: User(uid, email, name, bool(active))
                 for uid, email, name, active in users}
        sets = {gid: set(ids) for gid, ids in doc["members"]}
    return Snapshot(
        users=by_id,
        groups={gid: Group(gid, name, tuple(parents)) for gid, name, parents in groups},
        members=sets, cursor=cursor)


def _unpacked(blob: bytes) -> bytes:
    """The marshal bytes of a base blob of either marshal layout."""
    if blob.startswith(MARSHALLED):
        return zlib.decompress(blob[len(MARSHALLED):])
    try:
        return lz4.frame.decompress(blob[len(PACKED if blob.startswith(PACKED)
                                             else LZ4_MARSHALLED):])
    except RuntimeError as exc:  # what the lz4 binding raises for a damaged frame
        raise ValueError(f"damaged LZ4 frame: {exc}") from None


def _aware(value: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive; they were stored in UTC
    return value if value.tzinfo else value.replace(tzinfo=UTC)
