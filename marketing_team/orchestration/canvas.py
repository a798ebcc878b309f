"""Pure canvas builders: a step is a skill chained to its review (or, when the review is
structural only, a skill that reviews its own draft); a phase is a chain, or a chord.

Every signature carries the goal's run number, so a message of an earlier run (a resume bumped
it) ends as a no-op when it arrives. The review is chained at publish time, so each skill task
keeps its own id and name in the result backend and in Flower.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, chain, chord, group
from celery.canvas import Signature

from marketing_team.director.review_policy import structural_only
from marketing_team.domain.goal import Goal, TaskRecord, TaskStatus

# Publish without declaring the queue first. Celery sends to a direct queue through the anonymous
# exchange (kombu's Redis transport pushes straight onto the queue's list), so a declaration binds
# nothing a publish uses, yet kombu copies and binds the queue entity on every publish to look its
# declaration up in a cache (~0.05 ms of CPU each; a step publishes twice).
NO_DECLARE: dict[str, list[object]] = {"declare": []}
# A chained task's result is read by nobody: the chain carries what comes next in the message,
# and the work itself is in our own store. Storing it cost a round trip and ~0.3 ms of CPU per
# task. A chord's members and join keep theirs, which Celery's chord needs (see `phase_canvas`).
UNSTORED: dict[str, bool] = {"ignore_result": True}


def skill_signature(app: Celery, task: TaskRecord, run: int, reviews: bool = False,
                    stored: bool = False) -> Signature:
    """One draft of a skill; reviews: the draft's own task reviews it (else a review is chained);
    stored: its result is stored (a chord member's)."""
    return app.signature(f"skills.{task.skill}", args=(task.goal_id, task.id, run),
                         kwargs={"reviews": True} if reviews else {}, immutable=True,
                         priority=task.priority.broker_priority, queue="skills",
                         **_storing(stored), **NO_DECLARE)


def director_signature(app: Celery, name: str, *args: Any, priority: int = 0,
                       immutable: bool = True, **options: Any) -> Signature:
    """A director task on the director queue."""
    return app.signature(f"director.{name}", args=args, immutable=immutable, queue="director",
                         priority=priority, **{**NO_DECLARE, **options})


def review_signature(app: Celery, task: TaskRecord, run: int, stored: bool = False) -> Signature:
    """The Director's review of one task's current draft."""
    return director_signature(app, "review", task.goal_id, task.id, run,
                              priority=task.priority.broker_priority, **_storing(stored))


def step_signature(app: Celery, task: TaskRecord, run: int, stored: bool = False) -> Signature:
    """What a task still needs: its draft then its review, or only the review of a draft it has.

    A draft whose review is structural only (no model reviews it) is reviewed in its own task: a
    review task of its own would add a queue hop, a gate and a claim for microseconds of checks.
    stored: the step is a chord's member, whose tasks' results are stored.
    """
    if task.status is TaskStatus.COMPLETED:
        return review_signature(app, task, run, stored)
    if structural_only(task.priority):
        return skill_signature(app, task, run, reviews=True, stored=stored)
    return chain(skill_signature(app, task, run, stored=stored),
                 review_signature(app, task, run, stored))


def _storing(stored: bool) -> dict[str, bool]:
    return {} if stored else UNSTORED


def runnable(task: TaskRecord) -> bool:
    """True when the task still needs a worker (not finished, not waiting for a person)."""
    return not task.status.is_terminal and task.status is not TaskStatus.BLOCKED


def join_signature(app: Celery, goal: Goal, index: int, stored: bool = False) -> Signature:
    """The phase's join: advance_goal(results, goal, phase, run), an optimisation that repeats a
    check; stored: it is a chord's body."""
    return director_signature(app, "advance_goal", goal.id, index, goal.run,
                              priority=goal.priority.broker_priority, immutable=False,
                              **_storing(stored))


def phase_canvas(app: Celery, goal: Goal, index: int, tasks: list[TaskRecord] | None = None) -> Signature:
    """One phase (its unfinished tasks, or the ones given), then advance_goal for this run."""
    phase = goal.plan.phases[index]
    chosen = tasks if tasks is not None else [t for t in goal.phase_tasks(index) if runnable(t)]
    if not chosen:
        return _join_alone(app, goal, index)
    if phase.parallel and len(chosen) > 1:  # a chord: Celery's join needs its parts stored
        members = [step_signature(app, t, goal.run, stored=True) for t in chosen]
        return chord(group(members), join_signature(app, goal, index, stored=True))
    return chain(*[step_signature(app, t, goal.run) for t in chosen], join_signature(app, goal, index))


def still_owed(goal: Goal, task: TaskRecord) -> list[TaskRecord]:
    """What a task's message still owes: the task unless it is finished, and in a sequential phase
    the unfinished ones chained after it (a message that died after its task's final write never
    published them)."""
    if goal.plan.phases[task.phase_index].parallel:
        return [task] if runnable(task) else []
    siblings = goal.phase_tasks(task.phase_index)
    start = [t.id for t in siblings].index(task.id)
    return [t for t in siblings[start:] if runnable(t)]


def resume_canvas(app: Celery, goal: Goal, task: TaskRecord) -> Signature:
    """A task taken over from a silent worker: what its message still owed, then the join."""
    chosen = still_owed(goal, task)
    if not chosen:
        return _join_alone(app, goal, task.phase_index)
    return chain(*[step_signature(app, t, goal.run) for t in chosen],
                 join_signature(app, goal, task.phase_index))


def _join_alone(app: Celery, goal: Goal, index: int) -> Signature:
    """advance_goal with no step before it (nothing left to run in the phase)."""
    return director_signature(app, "advance_goal", None, goal.id, index, goal.run,
                              priority=goal.priority.broker_priority, **UNSTORED)
