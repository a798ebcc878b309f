"""Firing a schedule: decide (disabled, previous run active, budget), record why, or start its goal."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.exceptions import LockNotOwnedError

from marketing_team.director.launch import plan_goal, plan_pipeline
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import NotFoundError
from marketing_team.domain.goal import GoalStatus
from marketing_team.domain.schedule import ScheduleEntry, SkipReason
from marketing_team.store.schedule_state import ScheduleStates
from marketing_team.triggers.schedules import skip_reason
from marketing_team.triggers.starting import GoalStarter

log = logging.getLogger(__name__)
# A second firing of the same schedule (a beat tick during a manual `run`) waits this long for the
# first to finish deciding and starting, then skips as `previous_run_active`.
_LOCK_WAIT_S = 10


@dataclass(frozen=True)
class FireResult:
    """What one firing did: the goal it started, or the reason it skipped."""

    schedule_id: str
    goal_id: str | None = None
    skipped: SkipReason | None = None

    def as_json(self) -> dict[str, str | None]:
        """The small JSON the task returns."""
        return {"schedule_id": self.schedule_id, "goal_id": self.goal_id,
                "skipped": self.skipped.value if self.skipped else None}


def entry_of(rt: Runtime, schedule_id: str) -> ScheduleEntry:
    """The catalog schedule with this id, or NotFoundError listing the known ones."""
    for entry in rt.catalog.schedules:
        if entry.id == schedule_id:
            return entry
    known = ", ".join(e.id for e in rt.catalog.schedules)
    raise NotFoundError(f"unknown schedule {schedule_id!r} (known: {known})")


def states(rt: Runtime) -> ScheduleStates:
    """The schedule state store of this runtime."""
    return rt.schedules


def _previous_status(rt: Runtime, goal_id: str | None) -> GoalStatus | None:
    if goal_id is None or not rt.goals.exists(goal_id):
        return None
    return rt.goals.load(goal_id).status


def _skip(store: ScheduleStates, schedule_id: str, reason: SkipReason, goal_id: str | None) -> FireResult:
    store.record_skip(schedule_id, reason)
    log.info("schedule skipped", extra={"event": "schedule_skipped", "schedule": schedule_id,
                                        "reason": reason.value, "goal_id": goal_id})
    return FireResult(schedule_id, skipped=reason)


def fire(rt: Runtime, schedule_id: str, start: GoalStarter, manual: bool = False) -> FireResult:
    """Start the schedule's goal or pipeline unless it must be skipped; either way, record it."""
    entry = entry_of(rt, schedule_id)
    store = states(rt)
    # Planning a goal may take model calls: the lock outlives them (bounded by the hard limit).
    lock = rt.redis.lock(f"mt:schedule:{schedule_id}:lock", timeout=rt.settings.hard_time_limit_s,
                         blocking_timeout=_LOCK_WAIT_S)
    if not lock.acquire():
        # Another firing of this schedule is deciding or starting right now.
        return _skip(store, schedule_id, SkipReason.PREVIOUS_RUN_ACTIVE, None)
    try:
        state = store.get(schedule_id)
        allowed, level = rt.budget.allows(entry.priority)
        reason = skip_reason(enabled=state.is_enabled(entry.enabled),
                        previous=_previous_status(rt, state.last_goal_id),
                        budget_level_denying=None if allowed else level, manual=manual)
        if reason is not None:
            return _skip(store, schedule_id, reason, state.last_goal_id)
        source = f"schedule:{schedule_id}"
        if entry.kind == "pipeline":
            goal = plan_pipeline(rt, entry.target, entry.priority, source=source)
        else:
            goal, _ = plan_goal(rt, entry.target, entry.priority, entry.category, source=source)
        # Recorded before publishing, so a failed publish is still a visible firing (of a failed goal).
        start(goal, on_created=lambda g: store.record_fire(schedule_id, g.id))
    finally:
        try:
            lock.release()
        except LockNotOwnedError:
            log.warning("schedule lock expired before release", extra={
                "event": "schedule_lock_expired", "schedule": schedule_id})
    log.info("schedule fired", extra={"event": "schedule_fired", "schedule": schedule_id,
                                      "goal_id": goal.id, "manual": manual})
    return FireResult(schedule_id, goal_id=goal.id)
