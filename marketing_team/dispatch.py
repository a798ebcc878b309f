"""Publishing work: a goal's phases, its watchdog, and the signatures tasks splice in."""

from __future__ import annotations

import logging

from celery import Celery
from celery.canvas import Signature

from marketing_team import budget, flow, progress
from marketing_team.canvas import director_signature, phase_canvas, skill_signature
from marketing_team.domain import Goal, GoalStatus
from marketing_team.runtime import Runtime

log = logging.getLogger(__name__)
__all__ = ["dispatch_phase", "review_signature", "skill_signature", "start", "watch"]


def review_signature(app: Celery, goal_id: str, task_id: str, priority: int) -> Signature:
    """The Director's review of one task."""
    return director_signature(app, "review", goal_id, task_id, priority=priority)


def dispatch_phase(app: Celery, goal: Goal, index: int) -> None:
    """Publish one phase's canvas; a crash in any step fails the goal instead of hanging it."""
    canvas = phase_canvas(app, goal, index)
    canvas.on_error(director_signature(app, "task_crashed", goal.id, immutable=False))
    canvas.apply_async()
    log.info("phase dispatched", extra={"event": "phase_dispatched", "goal_id": goal.id,
                                        "phase": index + 1})


def start(app: Celery, rt: Runtime, goal_id: str) -> Goal:
    """Mark the goal running and publish its current phase plus its watchdog timer."""

    budget.before_publish(rt, rt.goals.load(goal_id))

    def change(goal: Goal) -> None:
        goal.status = GoalStatus.RUNNING

    goal, _ = rt.goals.update(goal_id, change)
    dispatch_phase(app, goal, goal.current_phase)
    arm_watchdog(app, rt, goal)
    progress.publish(rt, goal_id, "goal_started", phases=len(goal.plan.phases))
    return goal


def arm_watchdog(app: Celery, rt: Runtime, goal: Goal) -> None:
    """Check the goal again after 2 x the hard time limit."""
    countdown = rt.settings.hard_time_limit_s * 2
    director_signature(app, "watchdog", goal.id, goal.updated_at.isoformat()).apply_async(
        countdown=countdown)


def watch(app: Celery, rt: Runtime, goal_id: str, seen: str) -> str:
    """Fail a goal that made no progress since the last check; otherwise check again later."""
    goal = rt.goals.load(goal_id)
    if goal.status.is_settled:
        return "settled"
    if goal.updated_at.isoformat() == seen and goal.status is not GoalStatus.WAITING_BUDGET:
        limit = rt.settings.hard_time_limit_s * 2
        flow.fail_goal(rt, goal_id, f"watchdog: no progress for {limit} s (a lost task or chord)")
        return "failed"
    arm_watchdog(app, rt, goal)
    return "rearmed"
