"""The contract every source kind keeps, run against each kind's IdP over its real protocol.

Paging (settings force small pages), 429 with Retry-After, a token expiring mid-read, a page
that keeps failing (incomplete, never raised), wrong credentials, an unreachable host, nesting,
the change read, and the one-user / one-group reads (checked against the full read).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.idps.directory import Directory
from tests.sources.conftest import RecordingSleep
from tests.sources.contract_kinds import KINDS, Kind, Served, renamed, retired
from tests.sources.slapd import free_port
from workers.sources import registry
from workers.sources.base import Source
from workers.sources.records import group_slice, user_slice
from workers.sync.model import Snapshot

pytestmark = pytest.mark.parametrize("kind", list(KINDS), indirect=True)


@pytest.fixture
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


@pytest.fixture
def directory() -> Directory:
    """Several pages at the small page sizes, nesting, and one empty group."""
    d = Directory.generate(users=57, groups=12, memberships=120, seed=7, nested_fraction=0.4)
    d.team_list()[-1].member_ids = []
    return d


@pytest.fixture
def idp(kind: Kind, directory: Directory, request: pytest.FixtureRequest) -> Iterator[Served]:
    app = request.getfixturevalue("app") if kind.name == "scim_push" else None
    with kind.serve(directory, app=app) as served:
        yield served


def build(kind: Kind, settings: dict[str, Any], sleeps: Any = None, **extra: Any) -> Source:
    return registry.build(kind.name, {**settings, **kind.small_pages, **extra},
                          allow_private=True, **kind.options(sleeps or RecordingSleep()))


def by_name(snapshot: Snapshot) -> dict[str, Any]:
    """A snapshot in names and e-mails, comparable across kinds whose ids differ (LDAP's)."""
    email = {u.id: u.email for u in snapshot.users.values()}
    name = {g.id: g.name for g in snapshot.groups.values()}
    return {"users": {u.email: (u.display_name, u.active) for u in snapshot.users.values()},
            "groups": {g.name: sorted(name[p] for p in g.parent_ids)
                       for g in snapshot.groups.values()},
            "members": {name[gid]: sorted(email[u] for u in ids)
                        for gid, ids in snapshot.members.items() if gid in name}}


def expected(directory: Directory, nests: bool) -> dict[str, Any]:
    teams, people = directory.teams, directory.people
    return {"users": {p.email: (p.display_name, p.active) for p in people.values()},
            "groups": {t.name: [teams[t.parent_id].name] if nests and t.parent_id else []
                       for t in teams.values()},
            "members": {t.name: sorted(people[m].email for m in t.member_ids if m in people)
                        for t in teams.values()}}


def assert_reads(snapshot: Snapshot, directory: Directory, kind: Kind) -> None:
    assert snapshot.complete, snapshot.errors
    assert by_name(snapshot) == expected(directory, kind.nests)


def needs_http(kind: Kind) -> None:
    if not kind.http:
        pytest.skip(f"{kind.name} is not read over HTTP: no 429s or failing pages")


# -- full reads ------------------------------------------------------------------------------

def test_full_read_pages_through_everything_with_nesting(kind, idp, directory):
    snapshot = build(kind, idp.settings).fetch()
    assert_reads(snapshot, directory, kind)
    if kind.nests:
        assert any(g.parent_ids for g in snapshot.groups.values())


def test_429_is_waited_out_as_retry_after_says(kind, idp, directory, sleeps):
    needs_http(kind)
    idp.handle.rate_limit_on(2, retry_after="3")
    assert_reads(build(kind, idp.settings, sleeps).fetch(), directory, kind)
    assert 3.0 in sleeps.delays


def test_token_expiring_mid_read_is_renewed_once(kind, directory, sleeps, request):
    if not kind.tokens:
        pytest.skip(f"{kind.name} uses no expiring tokens")
    with kind.serve(directory, oauth=kind.tokens == "oauth") as idp:
        source = build(kind, idp.settings, sleeps)
        idp.handle.expire_tokens_on(4)
        assert_reads(source.fetch(), directory, kind)
        assert idp.handle.tokens.issued == 2


def test_a_page_that_keeps_failing_leaves_the_read_incomplete(kind, idp, sleeps):
    needs_http(kind)
    build(kind, idp.settings, sleeps).fetch()
    last = idp.handle.requests  # a listing or member page, whatever the order of the reads
    idp.handle.reset()
    idp.handle.fail_page_on(last, times=10)
    snapshot = build(kind, idp.settings, sleeps).fetch()
    assert not snapshot.complete and snapshot.errors


# -- what the connection test says ------------------------------------------------------------

def test_wrong_credentials_are_named_as_such(kind, idp):
    if kind.wrong_credentials is None:
        pytest.skip(f"{kind.name} has no credentials")
    check = build(kind, kind.wrong_credentials(idp.settings)).test_connection()
    assert (check.ok, check.reason) == (False, "auth"), check.message


def test_an_unreachable_host_is_named_as_such(kind, idp):
    if kind.unreachable is None:
        pytest.skip(f"{kind.name} calls no host")
    closed = f"http://127.0.0.1:{free_port()}"
    check = build(kind, kind.unreachable(closed, idp.settings)).test_connection()
    assert (check.ok, check.reason) == (False, "unreachable"), check.message


def test_the_connection_test_passes(kind, idp):
    check = build(kind, idp.settings).test_connection()
    assert check.ok, check.message


# -- changes ----------------------------------------------------------------------------------

def test_the_change_read_ends_where_a_full_read_would(kind, idp, directory):
    cls = registry.get(kind.name)
    source = build(kind, idp.settings, **kind.incremental)
    first = source.fetch()
    person, team = renamed(directory)
    idp.touch(person, team)
    changed = source.fetch_changes(first, first.cursor or "")
    assert_reads(changed, directory, kind)
    if cls.supports_incremental:
        assert changed.incremental and changed.cursor


def reads_changes_first(kind: Kind) -> None:
    if kind.quiet_requests is None:
        pytest.skip(f"{kind.name} reads changes only together with its stored base")


def test_an_unchanged_directory_reads_as_no_change(kind, idp):
    reads_changes_first(kind)
    first = build(kind, idp.settings, **kind.incremental).fetch()
    before = idp.handle.requests
    pending = build(kind, idp.settings, **kind.incremental).read_changes(first.cursor)
    assert pending is not None and pending.empty and pending.cursor
    assert idp.handle.requests - before <= kind.quiet_requests
    again = pending.apply(first)
    assert again.incremental and again.cursor == pending.cursor
    assert by_name(again) == by_name(first)


def test_changes_read_first_are_picked_up_then_quiet(kind, idp, directory):
    reads_changes_first(kind)
    first = build(kind, idp.settings, **kind.incremental).fetch()
    person, team = renamed(directory)
    idp.touch(person, team)
    leaver, gone = retired(directory, spared=team)
    idp.retire(leaver, gone)
    pending = build(kind, idp.settings, **kind.incremental).read_changes(first.cursor)
    assert pending is not None and not pending.empty
    changed = pending.apply(first)
    assert_reads(changed, directory, kind)
    assert changed.incremental and gone.id not in changed.groups
    after = build(kind, idp.settings, **kind.incremental).read_changes(changed.cursor)
    assert after is not None and after.empty


def test_a_cursor_the_source_cannot_use_is_a_full_read(kind, idp, directory):
    reads_changes_first(kind)
    source = build(kind, idp.settings, **kind.incremental)
    first = source.fetch()
    assert source.read_changes("not a cursor") is None
    full = source.fetch_changes(first, "not a cursor")
    assert_reads(full, directory, kind)
    assert not full.incremental and full.cursor


# -- one user, one group ----------------------------------------------------------------------

def test_one_user_is_read_as_the_full_read_shows_them(kind, idp, directory):
    source = build(kind, idp.settings)
    assert source.supports_targeted
    full = source.fetch()
    nested = next(t for t in directory.team_list() if t.parent_id and t.member_ids)
    email = directory.people[nested.member_ids[0]].email
    user_id = next(u.id for u in full.users.values() if u.email == email)
    got, want = source.fetch_user(user_id), user_slice(full, user_id)
    assert got.user == want.user
    assert sorted(got.groups, key=lambda g: g.id) == sorted(want.groups, key=lambda g: g.id)
    assert any(g.parent_ids for g in got.groups) == kind.nests


def test_a_missing_user_reads_as_none(kind, idp):
    missing = str(uuid.uuid4())
    assert build(kind, idp.settings).fetch_user(missing).user is None


def test_one_group_is_read_as_the_full_read_shows_it(kind, idp, directory):
    source = build(kind, idp.settings)
    full = source.fetch()
    nested = next(t for t in directory.team_list() if t.parent_id and t.member_ids)
    group_id = next(g.id for g in full.groups.values() if g.name == nested.name)
    got, want = source.fetch_group(group_id), group_slice(full, group_id)
    assert got.group == want.group
    assert sorted(got.members, key=lambda u: u.id) == sorted(want.members, key=lambda u: u.id)
    assert got.members


def test_a_missing_group_reads_as_none(kind, idp):
    missing = str(uuid.uuid4())
    assert build(kind, idp.settings).fetch_group(missing).group is None
