"""`rq cron` configuration (Procfile `clock`): one tick a minute enqueues the due connections;
once a day the data of sites uninstalled past the retention period is deleted."""

from rq import cron

from workers.jobs import purge_job, schedule_tick
from workers.queue import QUEUE

cron.register(schedule_tick, QUEUE, interval=60, job_timeout=120)
cron.register(purge_job, QUEUE, interval=86400, job_timeout=600)
