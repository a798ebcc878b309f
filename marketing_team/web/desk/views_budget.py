"""The budget page (the month's spend, level, what is left, by skill, model and day, with a chart)
and the schedules with their next firing time and an on/off switch."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from marketing_team.budget.ledger import month_of
from marketing_team.budget.summary import budget_summary
from marketing_team.domain.schedule import ScheduleEntry
from marketing_team.domain.values import utcnow
from marketing_team.triggers import firing
from marketing_team.triggers.schedules import next_fire
from marketing_team.web.desk.chart import daily_bars
from marketing_team.web.desk.core import PREFIX, Desk
from marketing_team.web.desk.http import DeskError, Reply, Request, redirect
from marketing_team.web.desk.session import Session

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class ScheduleRow:
    """A schedule as `mtctl schedules list` shows it."""

    entry: ScheduleEntry
    enabled: bool
    next_fire: datetime
    last_fired_at: datetime | None
    fire_count: int
    last_skip: str | None


def _schedules(desk: Desk) -> list[ScheduleRow]:
    rt, now = desk.runtime, utcnow()
    rows = []
    for entry in rt.catalog.schedules:
        state = rt.schedules.get(entry.id)
        rows.append(ScheduleRow(entry, state.is_enabled(entry.enabled),
                                next_fire(entry.cron, now, rt.settings.timezone),
                                state.last_fired_at, state.fire_count,
                                state.last_skip_reason.value if state.last_skip_reason else None))
    return rows


def budget_page(desk: Desk, request: Request, session: Session) -> Reply:
    """`mtctl budget` as a page, for ?month=YYYY-MM (default this month, UTC)."""
    month = request.query.get("month") or month_of(utcnow())
    if not _MONTH.fullmatch(month):
        raise DeskError(400, "month must be YYYY-MM", "month")
    summary = budget_summary(desk.settings, desk.runtime.budget.ledger.month(month), month, "redis")
    return desk.page("budget.html", request, session, budget=summary,
                     chart=daily_bars(summary["by_day"], month), schedules=_schedules(desk),
                     timezone=desk.settings.timezone)


def schedule_switch(desk: Desk, request: Request, session: Session, schedule_id: str,
                    state: str) -> Reply:
    """`mtctl schedules enable|disable`: persists; Beat's next tick obeys it."""
    firing.entry_of(desk.runtime, schedule_id)  # unknown id: NotFoundError, nothing changed
    enabled = state == "enable"
    desk.runtime.schedules.set_enabled(schedule_id, enabled)
    desk.acted(session, f"schedule_{state}", schedule_id)
    return redirect(f"{PREFIX}/budget#schedules")
