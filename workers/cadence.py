"""Sync cadences: the intervals Forge offers or a cron expression, and when one is next due.

Pure (croniter only): the admin API validates a schedule with it, the tick and Forge's
scheduled trigger compute the next run with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from croniter import CroniterBadDateError, croniter

INTERVALS = {
    "five_minutes": timedelta(minutes=5),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
"""Named intervals (Forge's scheduledTrigger offers fiveMinute, hour, day, week)."""
ALIASES = {"fiveMinute": "five_minutes", "5m": "five_minutes", "hourly": "hour",
           "daily": "day", "weekly": "week"}
MANUAL = ("", "manual", "none")
"""Spellings of 'on demand only', stored as NULL: the tick never enqueues such a connection."""


class ScheduleError(ValueError):
    """Not a known interval nor a valid five-field cron expression."""


def normalise(schedule: str | None) -> str | None:
    """The stored form of a schedule, or None for 'manual only'; ScheduleError when invalid."""
    if schedule is not None and not isinstance(schedule, str):
        raise ScheduleError(f"a schedule is text (an interval or a cron expression), not "
                            f"{type(schedule).__name__}")
    value = (schedule or "").strip()
    if value in MANUAL:
        return None
    value = ALIASES.get(value, value)
    if value in INTERVALS:
        return value
    if len(value.split()) == 5 and croniter.is_valid(value) and _ever_due(value):
        return value
    raise ScheduleError(f"{schedule!r} is neither one of {', '.join(INTERVALS)} "
                        "nor a five-field cron expression")


def _ever_due(expression: str) -> bool:
    # croniter accepts dates that never come (30 February); such a schedule would never run
    try:
        croniter(expression, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except (CroniterBadDateError, ValueError):
        return False
    return True


def next_run(schedule: str | None, after: datetime) -> datetime | None:
    """When a connection on `schedule` is next due, strictly after `after` (UTC)."""
    value = normalise(schedule)
    if value is None:
        return None
    if value in INTERVALS:
        return after + INTERVALS[value]
    return croniter(value, after.astimezone(UTC)).get_next(datetime).astimezone(UTC)
