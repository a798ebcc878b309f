"""Pure canvas builders: a phase is a chain, parallel skills a chord whose join is advance_goal."""

from __future__ import annotations

from typing import Any

from celery import Celery, chain, chord, group
from celery.canvas import Signature

from marketing_team.domain.goal import Goal, TaskRecord, TaskStatus


def skill_signature(app: Celery, task: TaskRecord) -> Signature:
    """One skill run (it splices its own review and revisions in with Task.replace)."""
    return app.signature(f"skills.{task.skill}", args=(task.goal_id, task.id), immutable=True,
                         priority=task.priority.broker_priority, queue="skills")


def director_signature(app: Celery, name: str, *args: Any, priority: int = 0,
                       immutable: bool = True, **options: Any) -> Signature:
    """A director task on the director queue."""
    return app.signature(f"director.{name}", args=args, immutable=immutable, queue="director",
                         priority=priority, **options)


def review_signature(app: Celery, goal_id: str, task_id: str, priority: int) -> Signature:
    """The Director's review of one task."""
    return director_signature(app, "review", goal_id, task_id, priority=priority)


def runnable(task: TaskRecord) -> bool:
    """True when the task still needs a worker (not finished, not waiting for a person)."""
    return not task.status.is_terminal and task.status is not TaskStatus.BLOCKED


def phase_canvas(app: Celery, goal: Goal, index: int) -> Signature:
    """The canvas for one phase: unfinished tasks only, then advance_goal(results, goal, phase)."""
    phase = goal.plan.phases[index]
    todo = [skill_signature(app, t) for t in goal.phase_tasks(index) if runnable(t)]
    prio = goal.priority.broker_priority
    if not todo:
        return director_signature(app, "advance_goal", None, goal.id, index, priority=prio)
    join = director_signature(app, "advance_goal", goal.id, index, priority=prio, immutable=False)
    if phase.parallel and len(todo) > 1:
        return chord(group(todo), join)
    return chain(*todo, join)
