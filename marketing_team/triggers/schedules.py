"""Schedules as data: next firing times and the fire-or-skip decision (pure; Beat's entries are built in orchestration)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from marketing_team.catalog.cron import CronFields, cron_fields, cron_problem
from marketing_team.domain.errors import ConfigurationError
from marketing_team.domain.goal import GoalStatus
from marketing_team.domain.schedule import SkipReason

# Far enough to find the next 29 February or a "31st of a 30-day month"-style rare match.
_SEARCH_DAYS = 366 * 8


def parse_cron(expr: str) -> CronFields:
    """Parse `m h dom mon dow`; ConfigurationError naming the expression when it is not valid."""
    problem = cron_problem(expr)
    if problem is not None:
        raise ConfigurationError(f"cron {expr!r}: {problem}")
    return cron_fields(expr)


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


def skip_reason(*, enabled: bool, previous: GoalStatus | None, budget_level_denying: str | None,
                manual: bool = False) -> SkipReason | None:
    """Why this firing must be skipped, or None to fire (a manual run ignores `disabled`)."""
    if not enabled and not manual:
        return SkipReason.DISABLED
    if previous is not None and not previous.is_settled:
        return SkipReason.PREVIOUS_RUN_ACTIVE
    if budget_level_denying is not None:
        return budget_reason(budget_level_denying)
    return None
