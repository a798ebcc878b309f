"""People in the loop: a person's decision on a review item, and the cascade that pauses a goal for one."""

from __future__ import annotations

from pydantic import JsonValue

from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import InputError
from marketing_team.domain.event import Event, EventType
from marketing_team.domain.goal import Goal, GoalStatus, TaskStatus
from marketing_team.domain.learning import Learning, Outcome
from marketing_team.domain.review_item import ItemStatus, Reason, ReviewItem
from marketing_team.observability import progress
from marketing_team.store.goals import Staged
from marketing_team.store.review_items import item_key


def human_decision(rt: Runtime, item_id: str, status: ItemStatus, notes: str = "") -> ReviewItem:
    """Apply a person's decision to the item and its task in one transaction; the caller resumes the goal."""
    if status is ItemStatus.REVISED and not notes.strip():
        raise InputError("--notes is required to ask for a revision")
    item = rt.reviews.load(item_id)
    decided = rt.reviews.decided(item, status, notes)  # InputError when decided already

    def change(goal: Goal) -> None:
        # Read again under the compare-and-set: a second person deciding at the same time loses.
        if rt.reviews.load(item_id).status is not ItemStatus.OPEN:
            raise InputError(f"review item {item_id} was decided meanwhile")
        if item.task_id is None:
            return
        task = goal.task(item.task_id)
        if task.status.is_terminal:  # e.g. a cascade item: the failed task stays failed
            return
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

    def effects(goal: Goal, _: None) -> list[Staged]:
        staged: list[Staged] = [rt.reviews.staged(decided)]
        if item.task_id is not None:
            outcome = Outcome.SUCCESS if status is ItemStatus.APPROVED else Outcome.FAILURE
            staged.append(rt.learnings.staged(Learning(
                skill=item.skill or "director", goal_id=item.goal_id, category=goal.category,
                outcome=outcome, tags=("human", status.value), confidence=0.9,
                lesson=f"A human reviewer {status.value} it" + (f": {notes.strip()}" if notes.strip() else "."))))
        return staged

    rt.goals.update(item.goal_id, change, effects, watch=(item_key(item_id),))
    return decided


# --- cascade: consecutive failures pause a goal ---------------------------------------------
CASCADE_LIMIT = 3
CASCADE_REASON = "cascading failure"


def pause_reason(goal: Goal) -> str | None:
    """Why a goal is paused by a cascade of failures, or None when it is not."""
    if goal.status is GoalStatus.WAITING_HUMAN and goal.status_reason.startswith(CASCADE_REASON):
        return goal.status_reason
    return None


def task_failed(rt: Runtime, goal_id: str, task_id: str, reason: str) -> Event | None:
    """After a task failed (skill_run.fail_task recorded it): pause the goal at the third in a row.

    Returns the pipeline_blocked event to emit when this failure paused the goal.
    """
    task = rt.goals.load(goal_id).task(task_id)

    def change(goal: Goal) -> bool:
        if goal.consecutive_failures < CASCADE_LIMIT or goal.status not in (
                GoalStatus.RUNNING, GoalStatus.WAITING_BUDGET):
            return False  # not yet a cascade, or already stopped (paused once, cancelled …)
        goal.status = GoalStatus.WAITING_HUMAN
        goal.status_reason = (f"{CASCADE_REASON}: {goal.consecutive_failures} tasks failed in a "
                              f"row (last {task.skill}: {reason[:160]})")
        return True

    def effects(goal: Goal, paused: bool) -> list[Staged]:
        if not paused:
            return []
        return [rt.reviews.staged(rt.reviews.new_item(goal_id, Reason.CASCADING_FAILURE,
                                                      goal.status_reason, task_id=task_id,
                                                      skill=task.skill))]

    goal, paused = rt.goals.update(goal_id, change, effects)
    if not paused:
        return None
    progress.publish(rt.redis, goal_id, "goal_paused", reason=goal.status_reason,
                     status=goal.status.value)
    data: dict[str, JsonValue] = {"goal_id": goal_id, "task_id": task_id, "skill": task.skill,
                                  "failures": goal.consecutive_failures, "reason": goal.status_reason}
    return Event(type=EventType.PIPELINE_BLOCKED, source="director", data=data)
