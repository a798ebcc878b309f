"""People in the loop: a person's decision on a review item, applied with the item in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from marketing_team.director.phases import Move, after_final, move_effects
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import InputError
from marketing_team.domain.goal import Goal, GoalStatus, TaskStatus
from marketing_team.domain.learning import Learning, Outcome
from marketing_team.domain.review_item import ItemStatus, ReviewItem
from marketing_team.store.goals import Staged
from marketing_team.store.review_items import item_key


@dataclass(frozen=True)
class Decided:
    """A person's decision as stored, and what it means for the goal's phases."""

    item: ReviewItem
    move: Move


def human_decision(rt: Runtime, item_id: str, status: ItemStatus, notes: str = "") -> Decided:
    """Apply a person's decision to the item and its task in one transaction.

    An approval or rejection is a final transition: in a running goal it may be the phase's last
    one out (the move says so). A paused goal is the caller's to resume.
    """
    if status is ItemStatus.REVISED and not notes.strip():
        raise InputError("--notes is required to ask for a revision")
    item = rt.reviews.load(item_id)
    decided = rt.reviews.decided(item, status, notes)  # InputError when decided already

    def change(goal: Goal) -> Move:
        # Read again under the compare-and-set: a second person deciding at the same time loses.
        if rt.reviews.load(item_id).status is not ItemStatus.OPEN:
            raise InputError(f"review item {item_id} was decided meanwhile")
        if item.task_id is None:
            return Move.NONE
        task = goal.task(item.task_id)
        if task.status.is_terminal:  # e.g. a cascade item: the failed task stays failed
            return Move.NONE
        if status is ItemStatus.APPROVED:
            if task.status is not TaskStatus.APPROVED:
                task.move(TaskStatus.APPROVED)
        elif status is ItemStatus.REVISED:
            task.move(TaskStatus.REVISION)
            task.revision += 1
            task.feedback = f"Human reviewer notes (authoritative):\n{notes.strip()}"
        else:
            task.move(TaskStatus.FAILED)
            task.error = "rejected by a human reviewer" + (f": {notes.strip()}" if notes.strip() else "")
        if goal.status is GoalStatus.WAITING_HUMAN:
            goal.status_reason = ""
            return Move.NONE  # paused: the caller resumes it as a new run
        return after_final(goal) if task.status.is_terminal else Move.NONE

    def effects(goal: Goal, move: Move) -> list[Staged]:
        staged: list[Staged] = [rt.reviews.staged(decided)]
        if item.task_id is not None:
            outcome = Outcome.SUCCESS if status is ItemStatus.APPROVED else Outcome.FAILURE
            staged.append(rt.learnings.staged(Learning(
                skill=item.skill or "director", goal_id=item.goal_id, category=goal.category,
                outcome=outcome, tags=("human", status.value), confidence=0.9, offline=rt.offline,
                lesson=f"A human reviewer {status.value} it" + (f": {notes.strip()}" if notes.strip() else "."))))
        return staged + move_effects(rt, goal, move)

    _, move = rt.goals.update(item.goal_id, change, effects, watch=(item_key(item_id),))
    return Decided(decided, move)
