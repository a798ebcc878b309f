"""Beat's schedule as data: one `triggers.fire_schedule(id)` entry per catalog schedule, and the sweep."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery.schedules import crontab, schedule

from marketing_team.domain.schedule import ScheduleEntry
from marketing_team.triggers.schedules import parse_cron

FIRE_TASK = "triggers.fire_schedule"
SWEEP_ENTRY = "mt-sweep"
# Workers sweep every few seconds themselves; beat's entry keeps parked work and stuck goals
# moving when every worker is busy with long calls, and costs one lock check when it is not.
SWEEP_EVERY_S = 30.0


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


def sweep_entry() -> dict[str, Any]:
    """Beat's `director.sweep` entry (one sweeper at a time runs under its Redis lock)."""
    return {"task": "director.sweep", "schedule": schedule(run_every=SWEEP_EVERY_S), "args": (),
            "options": {"queue": "director", "expires": SWEEP_EVERY_S}}
