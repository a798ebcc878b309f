"""What a person decides about running work: a review item decided, a stopped goal resumed.

One implementation for every front end: `mtctl reviews …`, `mtctl goals resume` and the review
desk call these, then each shows the outcome its own way (the CLI follows the goal, the desk
redirects to its page).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from celery import Celery

from marketing_team.director import human_review, phases
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import InputError
from marketing_team.domain.goal import Goal, GoalStatus
from marketing_team.domain.review_item import ItemStatus, ReviewItem
from marketing_team.orchestration import dispatch


class Continuation(StrEnum):
    """What a decision set going in its goal."""

    REPUBLISHED = "republished"  # the revised task runs again on its own; its phase goes on
    RESUMED = "resumed"  # the last open item of a paused goal: the goal continues
    STAYS = "stays"  # other items still open, or the goal settled meanwhile


@dataclass(frozen=True)
class Decision:
    """A decided item, the goal as it stands after it, and what continued."""

    item: ReviewItem
    goal: Goal
    continuation: Continuation


def decide_review(app: Celery, rt: Runtime, item_id: str, status: ItemStatus,
                  notes: str = "") -> Decision:
    """Apply a person's decision and do what it asks of the goal (InputError when decided already).

    Approve continues the paused pipeline, revise re-runs the skill with the notes, reject fails
    the task and the goal moves on or fails by policy (SPEC §13).
    """
    item = rt.reviews.load(item_id)
    decided = human_review.human_decision(rt, item_id, status, notes)
    goal = rt.goals.load(item.goal_id)
    if (status is ItemStatus.REVISED and item.task_id is not None
            and goal.status is GoalStatus.RUNNING):
        # The rest of its phase is still running: send this task round again on its own.
        dispatch.republish_task(app, goal, goal.task(item.task_id))
        return Decision(decided.item, goal, Continuation.REPUBLISHED)
    dispatch.follow(app, rt, goal, decided.move)  # the phase's last one out advances it
    goal = rt.goals.load(goal.id)
    paused = goal.status is GoalStatus.WAITING_HUMAN
    if paused and not any(i.goal_id == goal.id for i in rt.reviews.every(ItemStatus.OPEN)):
        # The last open item of a paused goal: continue it where it stopped.
        try:
            phases.reopen(rt, goal.id)
        except InputError:
            # Cancelled since the decision was recorded: the decision stands, nothing resumes.
            goal = rt.goals.load(goal.id)
            if not goal.status.is_final:
                raise
            return Decision(decided.item, goal, Continuation.STAYS)
        return Decision(decided.item, dispatch.start(app, rt, goal.id), Continuation.RESUMED)
    return Decision(decided.item, goal, Continuation.STAYS)


def resume_goal(app: Celery, rt: Runtime, goal_id: str) -> Goal:
    """Continue a stopped goal from its first unfinished task, as a new run (finished tasks stay)."""
    phases.reopen(rt, goal_id)
    return dispatch.start(app, rt, goal_id)
