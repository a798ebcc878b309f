"""Beat's schedule as data: one `triggers.fire_schedule(id)` entry per catalog schedule (pure builder)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery.schedules import crontab

from marketing_team.domain.schedule import ScheduleEntry
from marketing_team.triggers.schedules import parse_cron

FIRE_TASK = "triggers.fire_schedule"


def to_crontab(expr: str) -> crontab:
    """Celery's crontab for a five-field cron expression (it fires in the app's timezone)."""
    parse_cron(expr)  # our stricter reading first: ConfigurationError naming the expression
    minute, hour, dom, month, dow = expr.split()
    # Celery's positional order is not cron's (day_of_week comes third): name every field.
    return crontab(minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow)


def beat_schedule(entries: Iterable[ScheduleEntry]) -> dict[str, dict[str, Any]]:
    """The `beat_schedule` mapping: one `triggers.fire_schedule(id)` entry per catalog schedule."""
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        # Disabled schedules are seeded too: the task records the skip, and enabling one
        # later takes effect at its next tick without restarting beat.
        out[entry.id] = {
            "task": FIRE_TASK,
            "schedule": to_crontab(entry.cron),
            "args": [entry.id],
            "options": {"queue": "director", "priority": entry.priority.broker_priority},
        }
    return out
