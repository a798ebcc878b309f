"""Publishing work: a goal's phases, its watchdog, its start, and the events the engine returns."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from celery import Celery, chain

from marketing_team.director import flow
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import MarketingTeamError
from marketing_team.domain.event import Event
from marketing_team.domain.goal import Goal, GoalStatus, TaskRecord
from marketing_team.observability import progress
from marketing_team.orchestration.canvas import director_signature, phase_canvas, skill_signature
from marketing_team.store.internal_events import record_internal
from marketing_team.store.leases import alive_key
from marketing_team.triggers.starting import GoalStarter

log = logging.getLogger(__name__)


def dispatch_phase(app: Celery, rt: Runtime, goal: Goal, index: int) -> None:
    """Publish one phase's canvas; a crash in any step fails the goal instead of hanging it."""
    canvas = phase_canvas(app, goal, index)
    canvas.on_error(director_signature(app, "task_crashed", goal.id, immutable=False))
    canvas.apply_async()

    def record(g: Goal) -> None:
        g.dispatched_phase = max(g.dispatched_phase, index)

    rt.goals.update(goal.id, record)
    log.info("phase dispatched", extra={"event": "phase_dispatched", "goal_id": goal.id,
                                        "phase": index + 1})


def start(app: Celery, rt: Runtime, goal_id: str) -> Goal:
    """Mark the goal running and publish its current phase plus its watchdog timer."""

    rt.budget.before_publish(rt.goals.load(goal_id))

    def change(goal: Goal) -> None:
        goal.status = GoalStatus.RUNNING

    goal, _ = rt.goals.update(goal_id, change)
    arm_watchdog(app, rt, goal)
    if goal.current_phase >= len(goal.plan.phases):
        flow.finish(rt, goal_id)  # every phase already ran (a finish lost to a crash)
        return rt.goals.load(goal_id)
    dispatch_phase(app, rt, goal, goal.current_phase)
    progress.publish(rt.redis, goal_id, "goal_started", phases=len(goal.plan.phases))
    return goal


def arm_watchdog(app: Celery, rt: Runtime, goal: Goal) -> None:
    """Check the goal again after 2 x the hard time limit."""
    countdown = rt.settings.hard_time_limit_s * 2
    director_signature(app, "watchdog", goal.id, goal.updated_at.isoformat()).apply_async(
        countdown=countdown)


def _still_working(rt: Runtime, goal_id: str) -> bool:
    """True while a task of the goal is inside a model call, or work waits in the queues.

    The threads pool cannot enforce time limits, so a long call shows itself through a
    heartbeat key refreshed before each call; queued work behind busier goals is not lost work.
    """
    if rt.redis.exists(alive_key(goal_id)):
        return True
    # Skill work only: the director queue holds this very timer when no worker has taken it.
    queues = ["skills"] + [f"skills:{n}" for n in range(1, 10)]
    return any(rt.redis.llen(q) for q in queues)


def rerun_task(app: Celery, goal: Goal, task: TaskRecord) -> None:
    """Publish one task of the current phase again, followed by that phase's advance."""
    join = director_signature(app, "advance_goal", goal.id, task.phase_index,
                              priority=goal.priority.broker_priority, immutable=False)
    chain(skill_signature(app, task), join).apply_async()


def watch(app: Celery, rt: Runtime, goal_id: str, seen: str) -> str:
    """Fail a goal that made no progress since the last check; otherwise check again later."""
    goal = rt.goals.load(goal_id)
    if goal.status.is_settled:
        return "settled"
    if (goal.updated_at.isoformat() == seen and goal.status is not GoalStatus.WAITING_BUDGET
            and not _still_working(rt, goal_id)):
        limit = rt.settings.hard_time_limit_s * 2
        flow.fail_goal(rt, goal_id, f"watchdog: no progress for {limit} s (a lost task or chord)")
        return "failed"
    arm_watchdog(app, rt, goal)
    return "rearmed"


def publish_goal(app: Celery, rt: Runtime, goal: Goal,
           on_created: Callable[[Goal], object] | None = None) -> Goal:
    """Save and publish a planned goal; if publishing fails the goal is failed with the reason."""
    rt.goals.create(goal)
    if on_created is not None:
        on_created(goal)
    try:
        return start(app, rt, goal.id)
    except MarketingTeamError as exc:
        # A planned goal nobody publishes would look active forever (and block its schedule).
        flow.fail_goal(rt, goal.id, f"could not start: {type(exc).__name__}: {exc}"[:300])
        raise


def starter(app: Celery, rt: Runtime) -> GoalStarter:
    """The GoalStarter that triggers (schedules, the event bus) are handed."""

    def start_goal(goal: Goal, on_created: Callable[[Goal], object] | None = None) -> Goal:
        return publish_goal(app, rt, goal, on_created)

    return start_goal


def emit(app: Celery, rt: Runtime, events: Iterable[Event]) -> None:
    """Record events the engine returned, and route each a mapping exists for through the bus.

    Routed as a `triggers.handle_event` task, so a goal an event starts is planned on a worker
    of its own, never inside the task (or the gate) that raised the event.
    """
    for event in events:
        record_internal(rt.redis, event)
        if any(m.event == event.type for m in rt.catalog.events):
            publish_event(app, event)


def publish_event(app: Celery, event: Event, claimed: bool = False) -> None:
    """Send an event to the bus on a worker (`triggers.handle_event`)."""
    app.signature("triggers.handle_event", args=(event.model_dump_json(), claimed),
                  queue="director").apply_async()
