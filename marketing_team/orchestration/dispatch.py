"""Publishing work: a goal's phases, its watchdog, and the signatures tasks splice in."""

from __future__ import annotations

import logging

from celery import Celery, chain

from marketing_team import budget, flow, progress
from marketing_team.canvas import director_signature, phase_canvas, skill_signature
from marketing_team.domain import Goal, GoalStatus, TaskRecord
from marketing_team.runtime import Runtime

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

    budget.before_publish(rt, rt.goals.load(goal_id))

    def change(goal: Goal) -> None:
        goal.status = GoalStatus.RUNNING

    goal, _ = rt.goals.update(goal_id, change)
    arm_watchdog(app, rt, goal)
    if goal.current_phase >= len(goal.plan.phases):
        flow.finish(rt, goal_id)  # every phase already ran (a finish lost to a crash)
        return rt.goals.load(goal_id)
    dispatch_phase(app, rt, goal, goal.current_phase)
    progress.publish(rt, goal_id, "goal_started", phases=len(goal.plan.phases))
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


def alive_key(goal_id: str) -> str:
    """The heartbeat key a task refreshes before each model call."""
    return f"mt:goal:{goal_id}:alive"


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
