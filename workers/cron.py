"""`rq cron` configuration (Procfile `clock`): one tick a minute enqueues the due connections."""

from rq import cron

from workers.jobs import schedule_tick
from workers.queue import QUEUE

cron.register(schedule_tick, QUEUE, interval=60, job_timeout=120)
