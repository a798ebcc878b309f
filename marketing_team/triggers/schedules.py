"""Schedules as data: the Beat schedule built from catalog entries, next firing times, the fire decision."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from celery.schedules import crontab

from marketing_team.domain import GoalStatus, ScheduleEntry
from marketing_team.errors import ConfigurationError

FIRE_TASK = "triggers.fire_schedule"
# Far enough to find the next 29 February or a "31st of a 30-day month"-style rare match.
_SEARCH_DAYS = 366 * 8


class SkipReason(StrEnum):
    """Why a firing started nothing (recorded on the schedule and logged)."""

    DISABLED = "disabled"
    PREVIOUS_RUN_ACTIVE = "previous_run_active"
    BUDGET_WARNING = "budget_warning"
    BUDGET_THROTTLE = "budget_throttle"
    BUDGET_CRITICAL = "budget_critical"
    BUDGET_EXHAUSTED = "budget_exhausted"


@dataclass(frozen=True)
class CronFields:
    """A parsed five-field cron expression as sets of allowed values (day of week 0 = Sunday)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]


def parse_cron(expr: str) -> CronFields:
    """Parse `m h dom mon dow`; ConfigurationError naming the expression when it is not valid."""
    parts = expr.split()
    if len(parts) != 5:
        raise ConfigurationError(f"cron {expr!r}: expected 5 fields (minute hour day month weekday)")
    try:
        spec = to_crontab(expr)
        return CronFields(frozenset(spec.minute), frozenset(spec.hour), frozenset(spec.day_of_month),
                          frozenset(spec.month_of_year), frozenset(spec.day_of_week))
    except ValueError as exc:
        raise ConfigurationError(f"cron {expr!r}: {exc}") from None


def to_crontab(expr: str) -> crontab:
    """Celery's crontab for a five-field cron expression (it fires in the app's timezone)."""
    minute, hour, dom, month, dow = expr.split()
    # Celery's positional order is not cron's (day_of_week comes third): name every field.
    return crontab(minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow)


def beat_schedule(entries: Iterable[ScheduleEntry]) -> dict[str, dict[str, Any]]:
    """The `beat_schedule` mapping: one `triggers.fire_schedule(id)` entry per catalog schedule."""
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        parse_cron(entry.cron)
        # Disabled schedules are seeded too: the task records the skip, and enabling one
        # later takes effect at its next tick without restarting beat.
        out[entry.id] = {
            "task": FIRE_TASK,
            "schedule": to_crontab(entry.cron),
            "args": [entry.id],
            "options": {"queue": "director", "priority": entry.priority.broker_priority},
        }
    return out


def next_fire(cron: str, after: datetime, tz: str) -> datetime:
    """The first firing strictly after `after`, as an aware datetime in timezone tz."""
    fields = parse_cron(cron)
    zone = ZoneInfo(tz)
    local = after.astimezone(zone)
    day = local.date()
    for _ in range(_SEARCH_DAYS):
        cron_weekday = (day.weekday() + 1) % 7  # Python: Monday 0; cron: Sunday 0
        # Celery requires day of month AND weekday to match, so this does too (it is what fires).
        if (day.month in fields.months and day.day in fields.days_of_month
                and cron_weekday in fields.days_of_week):
            for hour in sorted(fields.hours):
                for minute in sorted(fields.minutes):
                    candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    if candidate > local:
                        return candidate
        day += timedelta(days=1)
    raise ConfigurationError(f"cron {cron!r} never fires")


def budget_reason(level: str) -> SkipReason:
    """The skip reason for a budget level that denies a priority."""
    try:
        return SkipReason(f"budget_{level}")
    except ValueError:
        raise ConfigurationError(f"unknown budget level {level!r}") from None


def decide(*, enabled: bool, previous: GoalStatus | None, budget_level_denying: str | None,
           manual: bool = False) -> SkipReason | None:
    """Why this firing must be skipped, or None to fire (a manual run ignores `disabled`)."""
    if not enabled and not manual:
        return SkipReason.DISABLED
    if previous is not None and not previous.is_settled:
        return SkipReason.PREVIOUS_RUN_ACTIVE
    if budget_level_denying is not None:
        return budget_reason(budget_level_denying)
    return None
