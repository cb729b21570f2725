"""The scheduled trigger over HTTP: due connections of that installation only, answered fast,
and a duplicated delivery starts nothing twice."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from app import extensions
from app.forge.schedule import DELIVERY_KEY
from app.models import Connection
from tests.forge.helpers import connection, fresh_queue, installation, queued_syncs
from workers.queue import WAITING_KEY


def _set(cid: int, **values) -> None:  # type: ignore[no-untyped-def]
    with extensions.db.session() as session:
        conn = session.get(Connection, cid)
        for name, value in values.items():
            setattr(conn, name, value)


def _next_run(cid: int) -> datetime | None:
    with extensions.db.session() as session:
        return session.get(Connection, cid).next_run_at


def test_trigger_enqueues_only_this_installations_due_connections(forge_stack, tmp_path,
                                                                    test_config):
    mine, theirs = forge_stack.install(), forge_stack.install()
    due = connection(mine.installation_id, str(tmp_path / "a.json"))
    later = connection(mine.installation_id, str(tmp_path / "b.json"), name="later")
    manual = connection(mine.installation_id, str(tmp_path / "c.json"), schedule=None, name="manual")
    pushed = connection(mine.installation_id, str(tmp_path / "d.json"), schedule=None, name="pushed")
    other = connection(theirs.installation_id, str(tmp_path / "e.json"))
    _set(later, next_run_at=datetime.now(UTC) + timedelta(hours=1))
    _set(pushed, pending_changes=True)
    queue = fresh_queue(test_config)
    started = time.perf_counter()
    assert forge_stack.forge.invoker.scheduled(mine) == [204]
    assert time.perf_counter() - started < 5.0
    assert queued_syncs(queue) == sorted([(due, "schedule"), (pushed, "push")])
    assert _next_run(due) is not None and _next_run(manual) is None
    assert other not in {cid for cid, _ in queued_syncs(queue)}


def test_a_duplicated_delivery_starts_nothing_twice(forge_stack, tmp_path, test_config):
    inst = forge_stack.install()
    cids = [connection(inst.installation_id, str(tmp_path / f"{n}.json"), name=f"c{n}")
            for n in range(3)]
    queue = fresh_queue(test_config)
    redis = extensions.redis(test_config)
    assert forge_stack.forge.invoker.scheduled(inst) == [204]
    # the worker has picked the jobs up: they no longer wait, so a join is impossible
    for cid in cids:
        redis.delete(WAITING_KEY.format(cid=cid))
    assert forge_stack.forge.invoker.scheduled(inst, times=2) == [204, 204]
    assert queued_syncs(queue) == sorted((cid, "schedule") for cid in cids)


def test_a_duplicate_in_the_same_moment_is_answered_without_work(forge_stack, tmp_path,
                                                                 test_config):
    inst = forge_stack.install()
    cid = connection(inst.installation_id, str(tmp_path / "a.json"))
    queue = fresh_queue(test_config)
    redis = extensions.redis(test_config)
    redis.set(DELIVERY_KEY.format(installation=inst.installation_id), "1", ex=30)
    assert forge_stack.forge.invoker.scheduled(inst) == [204]
    assert queued_syncs(queue) == [] and _next_run(cid) is None  # the database was not touched
    redis.delete(DELIVERY_KEY.format(installation=inst.installation_id))  # five minutes later
    assert forge_stack.forge.invoker.scheduled(inst) == [204]
    assert queued_syncs(queue) == [(cid, "schedule")]


def test_the_trigger_renews_a_system_token_near_its_end(forge_stack, tmp_path, test_config):
    inst = forge_stack.install()
    row = installation(forge_installation_id=inst.installation_id)
    held = row.system_token_encrypted
    fresh_queue(test_config)
    assert forge_stack.forge.invoker.scheduled(inst) == [204]
    assert installation(id=row.id).system_token_encrypted == held  # hours left: kept
    with extensions.db.session() as session:
        live = session.get(type(row), row.id)
        live.system_token_expires_at = datetime.now(UTC) + timedelta(minutes=30)
    fresh_queue(test_config)
    assert forge_stack.forge.invoker.scheduled(inst) == [204]
    renewed = installation(id=row.id)
    assert renewed.system_token_encrypted != held
    expires = renewed.system_token_expires_at
    expires = expires.replace(tzinfo=UTC) if expires.tzinfo is None else expires
    assert expires > datetime.now(UTC) + timedelta(hours=3)
