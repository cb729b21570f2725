"""The `rq worker` class the Procfile starts: RQ's forking worker with the sync code imported
once, in the worker itself, before it forks a process for each job.

RQ imports a job's function inside the forked process, so with the stock class every job paid
for importing the engine, the sources and the Atlassian client again (about 1.5 s of CPU):
more than a small targeted run itself takes. Importing here opens no connection (nothing in
the app does at import time), so the forked processes share nothing but code.
"""

from rq.worker import Worker

import workers.jobs  # noqa: F401  (the point of this module: imported before any fork)


class SyncWorker(Worker):
    """`rq worker -w workers.worker.SyncWorker`: each job starts with the code already loaded."""
