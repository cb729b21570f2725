"""`rq cron` configuration (Procfile `clock`): a tick every TICK_SECONDS enqueues the due
connections; once a day the data of sites uninstalled past the retention period is deleted."""

from rq import cron

from workers.jobs import purge_job, schedule_tick
from workers.queue import BULK, INTERACTIVE

TICK_SECONDS = 20
"""How often the tick looks for due connections: a due schedule waits at most this long to be
enqueued, leaving most of a minute for its queue."""

# The tick is a few milliseconds of work that every schedule waits for: the fastest queue.
cron.register(schedule_tick, INTERACTIVE, interval=TICK_SECONDS, job_timeout=120)
# Deleting a departed site's data can be large and nobody waits for it.
cron.register(purge_job, BULK, interval=86400, job_timeout=600)
