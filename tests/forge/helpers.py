"""Small helpers shared by the Forge tests: rows, connections and the RQ queue."""

from __future__ import annotations

from typing import Any

from rq import Queue
from sqlalchemy import select

from app import extensions
from app.connections import create as create_connection
from app.forge.schedule import DELIVERY_KEY
from app.models import Installation
from workers.queue import WAITING_KEY, fetch_job, queues


def installation(**where: Any) -> Installation | None:
    with extensions.db.session() as session:
        stmt = select(Installation)
        for name, value in where.items():
            stmt = stmt.where(getattr(Installation, name) == value)
        found = session.scalars(stmt).first()
        if found is not None:
            session.expunge(found)
        return found


def connection(client_key: str, path: str, schedule: str | None = "five_minutes",
               name: str = "HR file") -> int:
    with extensions.db.session() as session:
        conn = create_connection(session, client_key=client_key, kind="directory_file",
                                 name=name, settings={"path": path},
                                 mapping={"mode": "on_the_fly", "schedule": schedule or "manual"},
                                 encrypt=extensions.secrets.encrypt)
        session.flush()
        # the column's default ("hour") fills a None at insert: a manual connection is set after
        conn.schedule = schedule
        return conn.id


def fresh_queue(config: dict) -> list[Queue]:
    """The sync queues, emptied (the embedded Redis lives for the whole test session)."""
    redis = extensions.redis(config)
    queue = queues(redis)
    for each in queue:
        each.empty()
    for pattern in (WAITING_KEY.format(cid="*"), DELIVERY_KEY.format(installation="*")):
        for key in redis.scan_iter(pattern):
            redis.delete(key)
    return queue


def queued_syncs(queue: list[Queue]) -> list[tuple[int, str]]:
    """(connection id, trigger) of every queued sync job, on any of the queues."""
    jobs = [fetch_job(each.connection, job_id) for each in queue for job_id in each.job_ids]
    return sorted((job.args[0], job.args[1]) for job in jobs
                  if job is not None and job.func_name == "workers.jobs.sync_connection")
