"""The pending set and its drain: a scope of IdP ids, or an ordinary run when that is safer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from redis import Redis

from app import extensions
from app.models import Connection, SourceState
from tests.webhooks.conftest import add_connection
from workers import events
from workers.sync import snapshots
from workers.sync.model import Group, Snapshot, User


@pytest.fixture()
def redis(app, test_config):
    r = Redis.from_url(test_config["REDIS_URL"])
    r.flushdb()
    return r


def store_snapshot(cid: int) -> None:
    snap = Snapshot(users={"u1": User("u1", "Ann@Example.com"), "u2": User("u2", "bob@example.com")},
                    groups={"g1": Group("g1", "Engineering")}, members={"g1": {"u1"}}, cursor="c")
    with extensions.db.session() as session:
        session.add(SourceState(connection_id=cid, schema_version=snapshots.SCHEMA_VERSION,
                                settings_hash="h", cursor="c", snapshot=snapshots.encode(snap),
                                user_count=2, group_count=1, full_at=datetime.now(UTC)))


def flag(cid: int, value: bool = True) -> None:
    with extensions.db.session() as session:
        session.get(Connection, cid).pending_changes = value


def test_ids_drain_into_a_scope_and_the_set_is_emptied(redis):
    cid = add_connection("okta")
    events.add(redis, cid, ["u:00u1", "g:00g1", "u:00u2"])
    flag(cid)
    assert events.drain(redis, extensions.db, cid, "webhook") == \
        {"users": ["00u1", "00u2"], "groups": ["00g1"]}
    assert redis.exists(events.PENDING_KEY.format(cid=cid)) == 0


def test_names_resolve_through_the_stored_snapshot(redis):
    cid = add_connection("custom_rest")
    store_snapshot(cid)
    events.add(redis, cid, ["n:ann@example.com", "n:u2", "gn:engineering"])
    assert events.drain(redis, extensions.db, cid, "webhook") == \
        {"users": ["u1", "u2"], "groups": ["g1"]}


@pytest.mark.parametrize("members", [["n:nobody@example.com"], ["gn:No Such Group"], ["*", "u:u1"]])
def test_unresolvable_names_or_everything_mean_an_ordinary_run(redis, members):
    cid = add_connection("custom_rest")
    store_snapshot(cid)
    events.add(redis, cid, members)
    assert events.drain(redis, extensions.db, cid, "webhook") is None


def test_names_without_a_stored_snapshot_mean_an_ordinary_run(redis):
    cid = add_connection("custom_rest")
    events.add(redis, cid, ["n:ann@example.com"])
    assert events.drain(redis, extensions.db, cid, "webhook") is None


def test_past_the_threshold_the_set_collapses_to_everything(redis):
    cid = add_connection("okta")
    for start in range(0, events.THRESHOLD + 10, 100):
        events.add(redis, cid, [f"u:{i}" for i in range(start, start + 100)])
    assert events.take(redis, cid) == {"*"}


def test_a_set_lost_with_redis_while_the_database_says_pending_is_a_full_run(redis):
    cid = add_connection("okta")
    flag(cid)
    assert events.drain(redis, extensions.db, cid, "webhook") is None


def test_an_empty_set_with_nothing_pending_is_an_empty_scope(redis):
    cid = add_connection("okta")
    assert events.drain(redis, extensions.db, cid, "webhook") == {"users": [], "groups": []}


def test_other_runs_take_the_set_too_but_run_in_full(redis):
    cid = add_connection("okta")
    events.add(redis, cid, ["u:00u1"])
    assert events.drain(redis, extensions.db, cid, "schedule") is None
    assert events.take(redis, cid) == set(), "the full run covered it"


def test_a_dead_redis_means_a_full_run(app):
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    cid = add_connection("okta")
    assert events.drain(dead, extensions.db, cid, "webhook") is None


def test_resolve_is_pure_and_reads_the_snapshot_only_for_names():
    def boom():
        raise AssertionError("snapshot read for ids only")

    assert events.resolve({"u:a", "g:b"}, boom) == {"users": ["a"], "groups": ["b"]}


def test_a_set_that_says_everything_stays_so(redis):
    cid = add_connection("okta")
    events.add(redis, cid, ["u:00u1", "g:00g1"])
    assert events.add(redis, cid, ["*", "u:00u2"]) == 1
    assert events.add(redis, cid, ["u:00u3"]) == 1, "a full run is due: nothing more to keep"
    assert events.take(redis, cid) == {"*"}


def test_one_delivery_naming_more_than_the_threshold_is_everything(redis):
    cid = add_connection("okta")
    assert events.add(redis, cid, [f"u:{i}" for i in range(events.THRESHOLD + 1)]) == 1
    assert events.take(redis, cid) == {"*"}
