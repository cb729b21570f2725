"""The `rq worker` class the Procfile starts: small jobs run in the worker's own warm process,
bulk jobs in a forked one that is niced and thrown away afterwards.

RQ's stock worker forks a fresh process for every job and imports the job's code inside it, so
each small targeted run paid about 1.5 s of CPU (importing the engine, every IdP source and the
database driver, reading the settings, connecting, compiling SQL) for 0.2 s of work. Here the
code is imported once, before any fork, and jobs from the interactive and ordinary queues run
in this process as RQ's SimpleWorker runs them, keeping its settings, connection pools and
compiled SQL. A bulk job (a first sync of a million memberships) still gets a forked process:
its memory goes back when it ends, and a lower CPU priority lets small runs on the same
machine go first.
"""

from __future__ import annotations

import contextlib
import importlib
import os

from rq.job import Job
from rq.queue import Queue
from rq.worker import Worker, WorkerStatus

import workers.jobs  # noqa: F401  (imported before any fork, once)
from app import extensions
from workers.routing import BULK
from workers.sources import registry

registry.kinds()  # the source registry imports every IdP module on first use: do it now
with contextlib.suppress(ImportError):  # the PostgreSQL driver, imported when an engine is made
    importlib.import_module("sqlalchemy.dialects.postgresql.psycopg")

BULK_NICENESS = 10
"""How much lower the CPU priority of a bulk job's process is: where workers share a machine,
a first sync of a million memberships takes the CPU only when the small runs leave it idle."""


class SyncWorker(Worker):
    """`rq worker -w workers.worker.SyncWorker`: small jobs in-process, bulk jobs forked."""

    def execute_job(self, job: Job, queue: Queue) -> None:
        if queue.name == BULK:
            super().execute_job(job, queue)
            return
        # as rq's SimpleWorker does: no fork, the job runs here
        execution = self.prepare_execution(job)
        self.perform_job(job, queue, execution)
        self.set_state(WorkerStatus.IDLE)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        if job.origin == BULK:
            return super().get_heartbeat_ttl(job, working_time)
        # an in-process job blocks the loop that renews the worker's heartbeat: cover it whole
        return int(job.timeout or 3600) + 60

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        # In the forked process. Connections pooled by earlier in-process jobs belong to the
        # parent: the child opens its own (SQLAlchemy's advice for fork; redis-py does it itself).
        if extensions.db.engine is not None:
            extensions.db.engine.dispose(close=False)
        with contextlib.suppress(OSError):
            os.nice(BULK_NICENESS)
        super().main_work_horse(job, queue)
