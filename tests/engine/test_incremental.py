"""Incremental fetches through the whole engine: a stored base and cursor per connection, read
from the sandbox IdPs over HTTP, with full reads forced by settings changes, age and refused cursors."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.orm import selectinload, undefer_group

from app import config as app_config
from app import extensions, migrate
from app.db import Base, make_engine
from app.models import Connection, SourceState, SyncRun
from app.settings import Settings
from sandbox.idps import entra, keycloak, okta, scim
from sandbox.idps.directory import Directory
from tests.engine.harness import Stack, stack
from tests.engine.plan_sim import mutate, random_snapshot
from tests.engine.sources_fixtures import (
    HAS_ACCOUNT,
    connect,
    expected_groups,
    leave_and_join,
    person,
    scenario,
    team,
)
from tests.engine.test_desired_after import memberships_changed
from workers.sources.scim_paging import ScimCursor
from workers.sync import kept_desired, mapping, snapshots
from workers.sync import run as run_context
from workers.sync.model import Group, Snapshot, User, users_from_rows
from workers.sync.policy import from_connection
from workers.sync.stored_members import DamagedMembers

EXTRA_TEAMS = 12
"""Empty teams that make a full read cost what it does in a real directory: a listing per group."""


def directory() -> Directory:
    d = scenario()
    for n in range(EXTRA_TEAMS):
        d.add_team(f"project-{n:02d}")
    return d


@contextmanager
def served(test_config: dict, tmp_path, module: Any, d: Directory,
           **extra: Any) -> Iterator[tuple[Stack, Any, int]]:
    with stack(test_config, tmp_path) as site, module.serve(d) as handle:
        for username in HAS_ACCOUNT:
            p = person(d, username)
            site.cloud.site.add_user(p.email, p.display_name)
        yield site, handle, connect(site, module.KIND, {**handle.settings, **extra})


def sync(site: Stack, handle: Any, connection_id: int, status: str = "succeeded",
         dry_run: bool = False) -> tuple[SyncRun, int]:
    """One run; the run and how many requests the IdP received for it."""
    handle.requests = 0
    run = site.sync(connection_id, dry_run=dry_run)
    assert run.status == status, (run.status, run.reason, run.error)
    return run, handle.requests


def stored(connection_id: int) -> SourceState | None:
    """The connection's stored state with its base blob, read for use after the session."""
    with extensions.db.session() as session:
        return session.get(SourceState, connection_id,
                           options=[selectinload(SourceState.base), undefer_group("blobs")])


def assert_lands(site: Stack, d: Directory, nests: bool) -> None:
    expected = expected_groups(d, nests)
    assert {name: site.members(name) for name in expected} == expected


def update(model: type, key: int, **values: Any) -> None:
    with extensions.db.session() as session:
        row = session.get(model, key)
        for name, value in values.items():
            setattr(row, name, value)


def keycloak_leave_and_join(handle: Any, d: Directory) -> None:
    """The directory change, and the admin events Keycloak records for it."""
    leave_and_join(d)
    state = handle.extra["state"]
    state.record("DELETE", "GROUP_MEMBERSHIP",
                 f"users/{person(d, 'alice').id}/groups/{team(d, 'ops').id}")
    state.record("CREATE", "GROUP_MEMBERSHIP",
                 f"users/{person(d, 'erin').id}/groups/{team(d, 'backend').id}")


def test_keycloak_incremental_lifecycle(test_config, tmp_path):
    d = directory()
    with served(test_config, tmp_path, keycloak, d, use_admin_events=True) as (site, idp, cid):
        first, full_requests = sync(site, idp, cid)
        assert first.counts["fetch"] == "full"
        base = stored(cid)
        assert base is not None and base.user_count == 5 and base.group_count == 3 + EXTRA_TEAMS

        keycloak_leave_and_join(idp, d)
        second, requests = sync(site, idp, cid)
        assert second.counts["fetch"] == "incremental"
        assert requests <= 3 < full_requests // 4, (requests, full_requests)
        assert second.counts["applied"] > 0
        assert_lands(site, d, nests=True)
        assert stored(cid).cursor != base.cursor  # the new events moved the cursor on

        # a settings change (even a harmless one) must not build on the old base
        with extensions.db.session() as session:
            conn = session.get(Connection, cid)
            conn.settings = {**conn.settings, "page_size": 500}
        third, requests = sync(site, idp, cid)
        assert third.counts["fetch"] == "full" and requests >= full_requests - 1
        assert sync(site, idp, cid)[0].counts["fetch"] == "incremental"

        # a base whose full read is older than the maximum age is read again in full
        update(SourceState, cid, full_at=datetime.now(UTC) - timedelta(hours=25))
        aged, _ = sync(site, idp, cid)
        assert aged.counts["fetch"] == "full"
        assert datetime.now(UTC) - snapshots._aware(stored(cid).full_at) < timedelta(minutes=1)


def test_keycloak_incomplete_incremental_keeps_the_stored_base(test_config, tmp_path):
    d = directory()
    with served(test_config, tmp_path, keycloak, d, use_admin_events=True) as (site, idp, cid):
        sync(site, idp, cid)
        before = stored(cid)
        bob = person(d, "bob")
        bob.family_name = "Renamed"
        idp.extra["state"].record("UPDATE", "USER", f"users/{bob.id}")
        # request 1 is the token, 2 the events config, 3 the admin events, 4 the changed user:
        # refuse that one
        idp.faults.fail_page_on(4, status=400)
        broken, _ = sync(site, idp, cid, status="aborted")
        assert broken.counts["fetch"] == "incremental"
        after = stored(cid)
        assert (after.cursor, after.snapshot, after.saved_at) == (
            before.cursor, before.snapshot, before.saved_at)

        healed, _ = sync(site, idp, cid)  # from the old cursor: the rename is read again
        assert healed.counts["fetch"] == "incremental"
        assert stored(cid).cursor != before.cursor
        assert site.cloud.site.user_by_email(bob.email) is not None


def test_a_held_run_keeps_the_older_base(test_config, tmp_path):
    d = directory()
    with served(test_config, tmp_path, keycloak, d, use_admin_events=True) as (site, idp, cid):
        sync(site, idp, cid)
        before = stored(cid)
        update(Connection, cid, policy={"max_removal_percent": 0, "max_users_affected": 0})
        keycloak_leave_and_join(idp, d)
        held, _ = sync(site, idp, cid, status="held")
        assert held.counts["fetch"] == "incremental"
        assert (stored(cid).cursor, stored(cid).snapshot) == (before.cursor, before.snapshot)

        update(Connection, cid, policy={"max_removal_percent": 100, "max_users_affected": 100000})
        released, _ = sync(site, idp, cid)  # the older cursor still covers both changes
        assert released.counts["fetch"] == "incremental"
        assert_lands(site, d, nests=True)


def test_entra_delta_incremental_and_expired_delta_link(test_config, tmp_path):
    d = directory()
    with served(test_config, tmp_path, entra, d) as (site, idp, cid):
        # a preview reads everything too, and its complete snapshot is a sound base
        first, full_requests = sync(site, idp, cid, status="preview", dry_run=True)
        assert first.counts["fetch"] == "full" and stored(cid) is not None

        leave_and_join(d)
        second, requests = sync(site, idp, cid)
        assert second.counts["fetch"] == "incremental"
        assert requests <= 3 < full_requests // 4, (requests, full_requests)
        assert_lands(site, d, nests=True)

        # Graph forgot the delta state (410 resyncRequired): the same run reads in full
        idp.extra["state"]._saved.clear()
        team(d, "ops").member_ids.append(person(d, "erin").id)
        resync, requests = sync(site, idp, cid)
        assert resync.counts["fetch"] == "full" and requests >= full_requests
        assert_lands(site, d, nests=True)
        assert sync(site, idp, cid)[0].counts["fetch"] == "incremental"


def stamped_leave_and_join(handle: Any, d: Directory) -> None:
    leave_and_join(d)


NO_CHANGE_KINDS = {  # module, extra settings, nests, how a change is made, most no-op requests
    "entra": (entra, {}, True, stamped_leave_and_join, 3),
    "okta": (okta, {}, False, stamped_leave_and_join, 2),
    "keycloak": (keycloak, {"use_admin_events": True}, True, keycloak_leave_and_join, 3),
    "scim_pull": (scim, {}, True, stamped_leave_and_join, 4),
}


@pytest.mark.parametrize("kind", list(NO_CHANGE_KINDS))
def test_no_change_moves_the_cursor_without_loading_the_base(test_config, tmp_path, kind):
    module, extra, nests, change, most = NO_CHANGE_KINDS[kind]
    d = directory()
    with served(test_config, tmp_path, module, d, **extra) as (site, idp, cid):
        sync(site, idp, cid)
        converged, _ = sync(site, idp, cid)
        assert converged.counts["planning"] in ("incremental", "unchanged")
        # An unreadable base would force a full read, were it decoded: an empty change read
        # must not decode it (nor map, nor plan), only move the cursor on.
        update(SourceState, cid, snapshot=b"not zlib")
        noop, requests = sync(site, idp, cid)
        assert (noop.counts["fetch"], noop.counts["planning"], noop.ops_total) == (
            "incremental", "unchanged", 0)
        assert requests <= most and noop.counts["idp_groups"] == converged.counts["idp_groups"]
        assert stored(cid).snapshot == b"not zlib"
        # with a change, the base is needed: an unreadable one means a full read
        change(idp, d)
        changed, _ = sync(site, idp, cid)
        assert changed.counts["fetch"] == "full"
        assert_lands(site, d, nests=nests)


def test_refused_cursor_falls_back_to_a_full_read_in_the_same_run(test_config, tmp_path):
    d = directory()
    with served(test_config, tmp_path, scim, d) as (site, idp, cid):
        sync(site, idp, cid)
        update(SourceState, cid, cursor='not "a" timestamp')  # the SCIM reader refuses it
        leave_and_join(d)
        run, _ = sync(site, idp, cid)
        assert run.counts["fetch"] == "full"
        assert_lands(site, d, nests=True)
        assert ScimCursor.parse(stored(cid).cursor) is not None  # a cursor the reader takes


def test_a_source_without_a_cursor_stores_nothing(test_config, tmp_path):
    with stack(test_config, tmp_path) as site:
        cid = site.connection({"users": [], "groups": []})
        run = site.sync(cid, dry_run=True)
        assert (run.status, run.counts["fetch"]) == ("preview", "full")
        assert stored(cid) is None  # a file has no cursor: nothing worth storing


def test_choose_full_or_incremental():
    now = datetime.now(UTC)
    state = SourceState(connection_id=1, schema_version=snapshots.SCHEMA_VERSION,
                        settings_hash="h", cursor="c", full_at=now - timedelta(hours=1))
    pick = snapshots.choose
    day = timedelta(hours=24)
    assert pick(state, supports=True, fingerprint="h", now=now, max_age=day)[0] == "incremental"
    assert pick(state, supports=False, fingerprint="h", now=now, max_age=day)[0] == "full"
    assert pick(None, supports=True, fingerprint="h", now=now, max_age=day)[0] == "full"
    assert pick(state, supports=True, fingerprint="other", now=now, max_age=day)[0] == "full"
    assert pick(state, supports=True, fingerprint="h", now=now,
                max_age=timedelta(minutes=30))[0] == "full"
    state.schema_version = snapshots.SCHEMA_VERSION + 1
    assert pick(state, supports=True, fingerprint="h", now=now, max_age=day)[0] == "full"


MAX_AGE = "USERSYNC_FULL_FETCH_MAX_AGE_HOURS"


def test_settings_hash_and_max_age_setting():
    assert snapshots.settings_hash("okta", {"a": 1, "b": 2}) == snapshots.settings_hash(
        "okta", {"b": 2, "a": 1})
    assert snapshots.settings_hash("okta", {"a": 1}) != snapshots.settings_hash("entra", {"a": 1})
    def settings(env: dict[str, str]) -> Settings:
        return Settings.from_flask_config(app_config.load(env))

    assert snapshots.max_age_setting(settings({})) == timedelta(hours=24)
    assert snapshots.max_age_setting(settings({MAX_AGE: "6"})) == timedelta(hours=6)
    with pytest.raises(app_config.ConfigError, match=MAX_AGE):  # refused at start, not ignored
        settings({MAX_AGE: "soon"})


def test_encode_round_trips_a_snapshot():
    s = Snapshot(cursor="42")
    s.add_user(User("u1", "a@example.com", "A", True))
    s.add_user(User("u2", "b@example.com", "", False))
    s.add_group(Group("g1", "one"))
    s.add_group(Group("g2", "two", ("g1",)))
    s.add_member("g2", "u1")
    back = snapshots.decode(snapshots.encode(s), "42")
    assert (back.users, back.groups, back.members, back.cursor, back.complete) == (
        s.users, s.groups, s.members, "42", True)


def test_a_base_blob_writes_each_member_id_once_as_the_users_own_string():
    s = Snapshot(cursor="1")
    ids = [f"{n:08d}-0000-4000-8000-000000000000" for n in range(40)]  # Graph-shaped ids
    for uid in ids:
        s.add_user(User(uid, f"{uid[:8]}@example.com", "", True))
    for n in range(8):
        s.add_group(Group(f"g{n}", f"team-{n}"))
        # member ids arrive as strings of their own (a member listing), not the users' objects
        s.members[f"g{n}"] = {"".join(list(uid)) for uid in ids[n::2]}
    blob = snapshots.encode(s)
    back = snapshots.decode(blob, "1")
    assert back.members == s.members
    users = {uid: u.id for uid, u in back.users.items()}
    assert all(m is users[m] for ids in back.members.values() for m in ids)
    # in the blob, a member is its user's position: four bytes, not a 36-character id
    users_rows, _, others, members = snapshots.marshal.loads(snapshots._unpacked(blob))
    assert others == [] and len(users_rows) == 40
    assert [(g, len(data)) for g, data in members] == [(g, 4 * len(m)) for g, m in s.members.items()]


def test_member_ids_that_are_no_users_are_kept_after_the_users():
    s = Snapshot(cursor="1")
    s.add_user(User("u1", "u1@example.com"))
    s.add_group(Group("g", "G"))
    s.members["g"] = {"u1", "ghost"}
    back = snapshots.decode(snapshots.encode(s), "1")
    assert back.members == {"g": {"u1", "ghost"}} and back.names == ["u1", "ghost"]
    again = snapshots.decode(snapshots.encode(back, decoded=back), "1")
    assert again.members == {"g": {"u1", "ghost"}} and list(again.users) == ["u1"]


def test_a_base_stored_again_over_its_decoded_self_writes_ids_as_the_users_own():
    s = Snapshot(cursor="1")
    ids = [f"{n:08d}-0000-4000-8000-000000000000" for n in range(40)]
    for uid in ids:
        s.add_user(User(uid, f"{uid[:8]}@example.com", "", True))
    for n in range(8):
        s.add_group(Group(f"g{n}", f"team-{n}"))
        s.members[f"g{n}"] = {"".join(list(uid)) for uid in ids[n::2]}

    def shared(back: Snapshot) -> bool:
        users = {uid: u.id for uid, u in back.users.items()}
        return all(m is users[m] for members in back.members.values() for m in members)

    stored = snapshots.decode(snapshots.encode(s), "1")
    changed = Snapshot(users=dict(stored.users), groups=dict(stored.groups),
                       members=dict(stored.members))
    changed.members["g0"] = changed.members["g0"] | {"".join(list(ids[1]))}  # as a change read adds
    back = snapshots.decode(snapshots.encode(changed, decoded=stored), "1")
    assert back.members == changed.members and shared(back)
    # a base read from the JSON layout holds strings of its own: they are made the users'
    doc = {"users": [[u.id, u.email, u.display_name, u.active] for u in s.users.values()],
           "groups": [[g.id, g.name, []] for g in s.groups.values()],
           "members": [[gid, sorted(m)] for gid, m in s.members.items()]}
    from_json = snapshots.decode(snapshots.zlib.compress(snapshots.json.dumps(doc).encode()), "1")
    back = snapshots.decode(snapshots.encode(from_json, decoded=from_json), "1")
    assert back.members == s.members and shared(back)


def test_users_decoded_from_rows_equal_the_constructed_ones():
    rows = [("u1", "a@example.com", "A", True), ("u2", "b@example.com", "", False)]
    users = users_from_rows(rows)
    assert list(users.items()) == [(r[0], User(*r)) for r in rows]
    assert hash(users["u1"]) == hash(User(*rows[0]))
    with pytest.raises(AttributeError):  # still frozen
        users["u1"].email = "c@example.com"


def test_a_base_stored_as_json_before_the_marshal_layout_still_loads():
    s = small_snapshot()
    doc = {"users": [[u.id, u.email, u.display_name, u.active] for u in s.users.values()],
           "groups": [[g.id, g.name, list(g.parent_ids)] for g in s.groups.values()],
           "members": [[gid, sorted(ids)] for gid, ids in s.members.items()]}
    old = snapshots.zlib.compress(snapshots.json.dumps(doc).encode(), 1)
    back = snapshots.decode(old, "1")
    assert (back.users, back.groups, back.members) == (s.users, s.groups, s.members)
    assert list(back.users) == list(s.users)  # the order invitations go out in is kept
    again = snapshots.encode(back)
    assert again.startswith(snapshots.PACKED)
    assert snapshots.decode(again, "1").members == s.members


def test_a_base_stored_in_the_earlier_marshal_layouts_still_loads():
    s = small_snapshot()
    # member ids as marshal references to the users' ids, in zlib and then in LZ4
    doc = snapshots.marshal.dumps(([(u.id, u.email, u.display_name, u.active)
                                    for u in s.users.values()],
                                   [(g.id, g.name, g.parent_ids) for g in s.groups.values()],
                                   [(gid, tuple(ids)) for gid, ids in s.members.items()]), 4)
    for older in (snapshots.MARSHALLED + snapshots.zlib.compress(doc, 1),
                  snapshots.LZ4_MARSHALLED + snapshots.lz4.frame.compress(doc)):
        back = snapshots.decode(older, "1")
        assert (back.users, back.groups, back.members) == (s.users, s.groups, s.members)
        assert snapshots.encode(back, decoded=back).startswith(snapshots.PACKED)


def test_a_packed_group_pointing_past_the_ids_is_a_clear_error_when_read():
    doc = snapshots.marshal.dumps(([("u1", "a@example.com", "", True)], [("g", "G", ())], [],
                                   [("g", bytes([0, 0, 0, 0, 9, 0, 0, 0]))]), 4)
    back = snapshots.decode(_lz4(doc, snapshots.PACKED), "1")
    assert len(back.members["g"]) == 2
    with pytest.raises(DamagedMembers):
        set(back.members["g"])


def _lz4(value: bytes, prefix: bytes = snapshots.LZ4_MARSHALLED) -> bytes:
    return prefix + snapshots.lz4.frame.compress(value, content_checksum=True)


def _marshalled(value: object) -> bytes:
    return snapshots.MARSHALLED + snapshots.zlib.compress(snapshots.marshal.dumps(value))


@pytest.mark.parametrize("blob", [
    b"not zlib", snapshots.zlib.compress(b'{"users": 3}'),
    snapshots.MARSHALLED + b"not zlib", snapshots.MARSHALLED + snapshots.zlib.compress(b"\xff"),
    snapshots.MARSHALLED + snapshots.zlib.compress(b""), _marshalled(3), _marshalled(([1], [], [])),
    _marshalled(([], [("g", "n", ())], [("g", 5)])),
    snapshots.LZ4_MARSHALLED + b"not lz4", _lz4(b"\xff"), _lz4(snapshots.marshal.dumps(3)),
    _lz4(snapshots.marshal.dumps(([], [], [])))[:-3] + b"xyz",
    _lz4(snapshots.marshal.dumps((["u1", "a@example.com"], [], []))),
    snapshots.PACKED + b"not lz4", _lz4(b"\xff", snapshots.PACKED),
    _lz4(snapshots.marshal.dumps(([], [], [])), snapshots.PACKED),
    _lz4(snapshots.marshal.dumps(([], [("g", "G", ())], [], [("g", b"abc")])), snapshots.PACKED),
    _lz4(snapshots.marshal.dumps(([], [("g", "G", ())], [], [("g", (1, 2))])), snapshots.PACKED)])
def test_unreadable_base_means_a_full_read(blob):
    assert snapshots._base(blob, None, "c", 1) is None
    good = snapshots.encode(Snapshot())
    assert snapshots._base(good, blob, "c", 1) is None  # an unreadable delta too


def small_snapshot() -> Snapshot:
    s = Snapshot(cursor="1")
    for n in range(40):
        s.add_user(User(f"u{n}", f"u{n}@example.com", f"User {n}", True))
    for n in range(8):
        s.add_group(Group(f"g{n}", f"team-{n}", ("g0",) if n else ()))
        for m in range(n, 40, 3):
            s.add_member(f"g{n}", f"u{m}")
    return s


def test_a_delta_lays_every_kind_of_change_over_its_base():
    base = small_snapshot()
    base_blob = snapshots.encode(base)
    new = Snapshot(users=dict(base.users), groups=dict(base.groups),
                   members={g: set(m) for g, m in base.members.items()}, cursor="2")
    new.users["u3"] = User("u3", "renamed@example.com", "Renamed", False)
    del new.users["u4"]
    new.add_user(User("u99", "new@example.com", "New", True))
    new.groups["g2"] = Group("g2", "team-two", ())
    del new.groups["g7"], new.members["g7"]
    new.add_group(Group("g9", "fresh"))
    new.add_member("g9", "u99")
    new.members["g1"].discard("u1")
    doc = snapshots.delta(snapshots.decode(base_blob, "1"), new)
    assert doc["users_gone"] == ["u4"] and doc["groups_gone"] == ["g7"]
    assert sorted(u[0] for u in doc["users"]) == ["u3", "u99"]
    assert doc["members"] == [["g9", ["u99"]]]  # a new group whole, a known one as a diff
    assert doc["members_diff"] == [["g1", [], ["u1"]]]
    back = snapshots.decode_state(base_blob, snapshots.encode_delta(doc), "2")
    assert (back.users, back.groups, back.members, back.cursor) == (
        new.users, new.groups, new.members, "2")
    # a delta stored before members_diff existed held changed groups whole: still read
    older = {**doc, "members": doc["members"] + [["g1", sorted(new.members["g1"])]]}
    del older["members_diff"]
    back = snapshots.decode_state(base_blob, snapshots.encode_delta(older), "2")
    assert back.members == new.members
    # a state stored before deltas existed (delta NULL) loads as its base alone
    old = snapshots.decode_state(base_blob, None, "1")
    assert (old.users, old.groups, old.members) == (base.users, base.groups, base.members)


@pytest.mark.parametrize("seed", range(25))
def test_a_delta_from_what_a_run_knows_changed_equals_one_worked_out_in_full(seed):
    """`keep` gives `delta` the users the stored delta and the change read touched, instead
    of each user, and the stored delta, whose entries stand for the groups this change left
    alone: the delta read back is the same snapshot either way, users in the same order."""
    rng = random.Random(seed)
    stored = snapshots.decode(snapshots.encode(random_snapshot(rng, users=40, groups=6)), "1")
    read = snapshots._base(snapshots.encode(stored), snapshots.encode_delta(
        snapshots.delta(stored, mutate(rng, stored, rng.randrange(0, 6)))), "1", 1)
    base = read.snapshot
    # as a change read lays itself over a base: the sets it leaves alone shared, records
    # replaced in place, additions at the end
    new = memberships_changed(rng, base, rng.randrange(0, 6))
    mutated = mutate(rng, base, rng.randrange(0, 6))
    for uid in base.users.keys() - mutated.users.keys():
        del new.users[uid]
    for uid, user in mutated.users.items():
        if base.users.get(uid) != user:
            new.users[uid] = user
    hint = mapping.changed_keys(base.users, new.users) | read.delta_users
    for doc in (snapshots.delta(stored, new), snapshots.delta(stored, new, users=hint),
                snapshots.delta(stored, new, users=hint, since=(base, read.doc))):
        back = snapshots.apply_delta(stored, snapshots.encode_delta(doc))
        assert list(back.users.items()) == list(new.users.items())
        assert back.members == new.members and back.groups == new.groups


def test_a_small_change_is_kept_as_a_delta_and_a_large_one_compacts(test_config, tmp_path):
    d = directory()
    crowd = [d.add_person(f"member{n:03d}").id for n in range(150)]
    for n in range(EXTRA_TEAMS):  # a directory whose base outweighs a one-member change
        team(d, f"project-{n:02d}").member_ids.extend(crowd[n::4])
    with served(test_config, tmp_path, entra, d) as (site, idp, cid):
        sync(site, idp, cid)
        base_blob = stored(cid).snapshot
        assert stored(cid).delta is None
        team(d, "ops").member_ids.append(person(d, "erin").id)
        team(d, "ops").updated = time.time()
        run, _ = sync(site, idp, cid)
        assert run.counts["fetch"] == "incremental"
        state = stored(cid)
        assert state.snapshot == base_blob and state.delta is not None  # only the change stored
        assert_lands(site, d, nests=True)
        leave_and_join(d)  # the next change read builds on base + delta
        run, _ = sync(site, idp, cid)
        assert run.counts["fetch"] == "incremental"
        assert_lands(site, d, nests=True)
        for n in range(EXTRA_TEAMS):  # a change as large as the directory: stored whole again
            team(d, f"project-{n:02d}").member_ids[:] = crowd[(n + 1) % 4::4]
            team(d, f"project-{n:02d}").updated = time.time()
        sync(site, idp, cid)
        state = stored(cid)
        assert state.snapshot != base_blob and state.delta is None
        assert_lands(site, d, nests=True)



def test_migration_matches_the_model_and_downgrades(tmp_path):
    url = f"sqlite:///{tmp_path / 'migrations.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = [d for d in compare_metadata(context, Base.metadata)
                    if "source_state" in repr(d) or "source_base" in repr(d)]
        assert diff == []
        command.downgrade(migrate.alembic_config(url), "0006@0005")
        assert "source_state" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_0023_moves_each_base_blob_into_its_own_row_and_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'base.db'}"
    migrate.upgrade(url, "0022")
    engine = make_engine(url)
    blob = b"usersync-base:" + bytes(range(256)) * 40
    try:
        with closing(sqlite3.connect(tmp_path / "base.db")) as raw, raw:
            raw.execute("INSERT INTO installation (id, client_key, product_type, base_url, "
                        "state, installed_at, updated_at) VALUES (1, 'k', 'jira', "
                        "'https://x.atlassian.net', 'installed', '2026-12-01', '2026-12-01')")
            raw.execute(
                "INSERT INTO connection (id, installation_id, name, kind, enabled, settings, "
                "mapping_mode, mapping, filters, default_groups, deprovision, policy, "
                "pending_changes, created_at, updated_at) VALUES (7, 1, 'c', 'okta', 1, '{}', "
                "'on_the_fly', '{}', '{}', '[]', 'none', '{}', 0, '2026-12-01', '2026-12-01')")
            raw.execute(
                "INSERT INTO source_state (connection_id, schema_version, settings_hash, "
                "cursor, snapshot, delta, user_count, group_count, full_at, saved_at) "
                "VALUES (7, 1, 'h', 'c', ?, ?, 1, 1, '2026-12-01', '2026-12-01')",
                (blob, b"d"))
        migrate.upgrade(url)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT connection_id, blob FROM source_base")).all() == [
                (7, blob)]
            assert connection.execute(text(
                "SELECT base_size, delta, cursor FROM source_state")).all() == [
                (len(blob), b"d", "c")]
        command.downgrade(migrate.alembic_config(url), "0022")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT snapshot FROM source_state")).scalar() == blob
            assert "source_base" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def kept_and_mapped(cid: int) -> tuple[Any, Any]:
    """The desired state kept with the connection's stored base, and that base mapped again."""
    with extensions.db.session() as session:
        conn, state = session.get(Connection, cid), session.get(SourceState, cid)
        policy = from_connection(conn.mapping_mode, conn.mapping_config(), conn.filters,
                                 conn.default_groups, conn.deprovision, conn.policy).mapping
        base = snapshots.decode_state(state.snapshot, state.delta, state.cursor)
        blob, basis = state.desired, run_context.basis_of(conn)
    return kept_desired.load(blob, base, policy, basis), mapping.desired(base, policy)


def test_each_stored_base_keeps_the_desired_state_the_next_run_starts_from(test_config,
                                                                          tmp_path):
    d = directory()
    with served(test_config, tmp_path, entra, d) as (site, idp, cid):
        sync(site, idp, cid)
        kept, mapped = kept_and_mapped(cid)
        assert kept is not None and kept == mapped
        for step in range(2):  # stored as a delta over the base, then again
            if step == 0:
                leave_and_join(d)
            else:
                team(d, "ops").member_ids.append(person(d, "erin").id)
                team(d, "ops").updated = time.time()
            run, _ = sync(site, idp, cid)
            assert run.counts["planning"] == "incremental"
            kept, mapped = kept_and_mapped(cid)
            assert kept is not None and kept == mapped


def test_an_unchanged_stand_in_is_never_stored_as_a_base(test_config, tmp_path):
    d = directory()
    with served(test_config, tmp_path, entra, d) as (site, idp, cid):
        sync(site, idp, cid)
        base = stored(cid).snapshot
        # the connection's settings changed meanwhile: only a whole snapshot may be stored
        update(SourceState, cid, settings_hash="older")
        fetched = snapshots.Fetched(Snapshot(cursor="next", incremental=True),
                                    snapshots.INCREMENTAL, connection_id=cid, settings_hash="h",
                                    full_at=datetime.now(UTC), incremental_capable=True,
                                    unchanged=True)
        assert snapshots.keep(extensions.db, fetched, "succeeded", True) is False
        assert stored(cid).snapshot == base and stored(cid).cursor != "next"



def test_a_base_whose_members_point_past_its_ids_fails_one_run_clearly_then_reads_in_full(
        test_config, tmp_path):
    d = directory()
    with served(test_config, tmp_path, entra, d) as (site, idp, cid):
        sync(site, idp, cid)
        state = stored(cid)
        users, groups, others, members = snapshots.marshal.loads(
            snapshots._unpacked(state.snapshot))
        bad = [(gid, (10**6).to_bytes(4, "little") * max(1, len(data) // 4))
               for gid, data in members]
        update(SourceState, cid, snapshot=_lz4(snapshots.marshal.dumps(
            (users, groups, others, bad), 4), snapshots.PACKED), delta=None)
        leave_and_join(d)
        failed, _ = sync(site, idp, cid, status="failed")
        assert "point past the stored ids" in failed.error and "reads the IdP in full" in failed.error
        assert stored(cid) is None
        again, _ = sync(site, idp, cid)
        assert again.counts["fetch"] == "full"
        assert_lands(site, d, nests=True)
