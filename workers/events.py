"""The pending set: what webhooks named for a connection, waiting for its next run to take.

A webhook adds references (`u:<id>`, `g:<id>`, `n:<e-mail or userName>`, `gn:<group name>`, or
`*` for everything) to a Redis set per connection, after committing `Connection.pending_changes`
(the database's record that work is pending, as for SCIM pushes). The run takes the set
atomically and turns it into a scope of IdP ids; it falls back to an ordinary run (None) when
the set names everything, is too large, holds a name no stored snapshot resolves, or was lost
with a Redis restart while the database still says work is pending.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from redis import Redis
from redis.exceptions import NoScriptError

from app.db import Database
from workers.queue import WAITING_KEY

log = logging.getLogger(__name__)

PENDING_KEY = "usersync:webhook:pending:{cid}"
"""Redis set of the references webhooks named for connection `cid` since its last run began."""
EVERYTHING = "*"
THRESHOLD = 500
"""Past this many references a scoped run would cost more than a full one: run in full."""
WEBHOOK = "webhook"
ENQUEUED_KEY = "usersync:webhook:enqueued:{cid}"
"""The id of the last sync job a webhook enqueued for connection `cid` (equal to the waiting
job's id while that job waits: later webhooks join it without enqueueing)."""
KEY_TTL = 7 * 86400
"""A set nobody drains (connection deleted) does not outlive a week."""


def add(redis: Redis, connection_id: int, members: list[str]) -> int:
    """Add references to the connection's pending set; returns its size afterwards."""
    return add_and_check(redis, connection_id, members)[0]


def add_and_check(redis: Redis, connection_id: int, members: list[str]) -> tuple[int, bool]:
    """Add references and, in the same step, ask whether a job a webhook enqueued still
    waits; returns (size of the set, that job waits).

    When it waits it has not begun (a job clears WAITING_KEY before it drains), so it will
    take these references: the caller need not enqueue again. One round trip (a script):
    in a storm this is all a delivery asks of Redis."""
    if not members:
        return 0, False
    if len(members) > THRESHOLD:
        members = [EVERYTHING]  # the run is a full one anyway; keeps the script's unpack small
    keys = (PENDING_KEY.format(cid=connection_id), WAITING_KEY.format(cid=connection_id),
            ENQUEUED_KEY.format(cid=connection_id))
    args = (THRESHOLD, KEY_TTL, *members)
    try:
        size, waits = redis.evalsha(_ADD_SHA, len(keys), *keys, *args)
    except NoScriptError:  # first call on this server (EVAL caches it for the next EVALSHA)
        size, waits = redis.eval(_ADD, len(keys), *keys, *args)
    return int(size), bool(waits)


def mark_enqueued(redis: Redis, connection_id: int, job_id: str, ttl: int) -> None:
    """Remember that `job_id`, now waiting, was enqueued for webhooks (on their queue)."""
    redis.set(ENQUEUED_KEY.format(cid=connection_id), job_id, ex=ttl)


# Bounded memory in a storm: past THRESHOLD references (or once one names everything) the set
# is just `*`, and a set that already says everything is left alone, since the run will be a
# full one anyway. Atomic, so the run's `take` sees the set before or after, never half of it.
_ADD = """
local key = KEYS[1]
if redis.call('SISMEMBER', key, '*') == 0 then
  local everything = false
  for i = 3, #ARGV do
    if ARGV[i] == '*' then everything = true end
  end
  if not everything then
    redis.call('SADD', key, unpack(ARGV, 3))
    everything = redis.call('SCARD', key) > tonumber(ARGV[1])
  end
  if everything then
    redis.call('DEL', key)
    redis.call('SADD', key, '*')
  end
end
redis.call('EXPIRE', key, ARGV[2])
local waiting = redis.call('GET', KEYS[2])
local ours = redis.call('GET', KEYS[3])
return {redis.call('SCARD', key), (waiting and waiting == ours) and 1 or 0}
"""
_ADD_SHA = hashlib.sha1(_ADD.encode()).hexdigest()  # noqa: S324  (Redis names scripts by SHA-1)


def take(redis: Redis, connection_id: int) -> set[str]:
    """Everything in the pending set, removed in the same transaction (later adds stay)."""
    key = PENDING_KEY.format(cid=connection_id)
    pipe = redis.pipeline(transaction=True)
    pipe.smembers(key)
    pipe.delete(key)
    members, _ = pipe.execute()
    return {m.decode() if isinstance(m, bytes) else m for m in members}


def drain(redis: Redis, db: Database, connection_id: int, trigger: str) -> dict[str, Any] | None:
    """At the start of a run: the scope a webhook run may be limited to, or None (everything).

    Every run takes the set (an ordinary run covers what it named); only a `webhook` run
    returns a scope. Call it before the run clears `pending_changes`.
    """
    try:
        members = take(redis, connection_id)
    except Exception:  # Redis gone: the run is an ordinary one, which covers every event
        log.warning("pending set of connection %s unreadable; running in full", connection_id,
                    exc_info=True)
        return None
    if trigger != WEBHOOK:
        return None
    if not members:
        if _pending_in_database(db, connection_id):
            log.info("connection %s: work is pending but its set is gone (Redis restarted?); "
                     "running in full", connection_id)
            return None
        return {"users": [], "groups": []}
    if EVERYTHING in members or len(members) > THRESHOLD:
        return None
    return resolve(members, lambda: _stored_snapshot(db, connection_id))


def resolve(members: set[str], snapshot_of) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """Pure: references → {"users": [...], "groups": [...]} of IdP ids, or None when a name is
    unresolvable. `snapshot_of()` gives the stored base snapshot (or None), read only if needed."""
    users, groups, names, group_names = set(), set(), set(), set()
    for member in members:
        prefix, _, value = member.partition(":")
        {"u": users, "g": groups, "n": names, "gn": group_names}.get(prefix, names).add(value)
    if names or group_names:
        snapshot = snapshot_of()
        if snapshot is None:
            return None
        by_email = {u.email.lower(): u.id for u in snapshot.users.values() if u.email}
        for name in names:
            found = name if name in snapshot.users else by_email.get(name.lower())
            if found is None:
                return None
            users.add(found)
        by_name = {g.name.lower(): g.id for g in snapshot.groups.values()}
        for name in group_names:
            found = name if name in snapshot.groups else by_name.get(name.lower())
            if found is None:
                return None
            groups.add(found)
    return {"users": sorted(users), "groups": sorted(groups)}


def _pending_in_database(db: Database, connection_id: int) -> bool:
    from app.models import Connection

    with db.session() as session:
        conn = session.get(Connection, connection_id)
        return bool(conn is not None and conn.pending_changes)


def _stored_snapshot(db: Database, connection_id: int):  # type: ignore[no-untyped-def]
    from app.models import SourceState
    from workers.sync import snapshots

    with db.session() as session:
        state = session.get(SourceState, connection_id)
        if state is None:
            return None
        blob, delta, cursor = state.snapshot, state.delta, state.cursor
    try:
        return snapshots.decode_state(blob, delta, cursor)
    except Exception:  # an unreadable base resolves nothing: the run is a full one
        log.warning("stored snapshot of connection %s unreadable", connection_id, exc_info=True)
        return None
