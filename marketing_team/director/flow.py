"""What happens to a goal's tasks: the review of a finished draft, a failed goal, a cancel (no Celery here)."""

from __future__ import annotations

import logging

from marketing_team.director import prompt_inputs
from marketing_team.director.decision import Decision, Reviewed, already
from marketing_team.director.phases import Move
from marketing_team.director.review import review_text
from marketing_team.director.review_policy import structural_only
from marketing_team.director.runtime import Runtime
from marketing_team.director.skill_run import Stored
from marketing_team.domain.errors import InputError
from marketing_team.domain.goal import Goal, GoalStatus, TaskStatus
from marketing_team.domain.review_item import ItemStatus
from marketing_team.domain.values import Tier, utcnow
from marketing_team.observability import progress
from marketing_team.store.goals import Staged
from marketing_team.store.replies import reply_key

log = logging.getLogger(__name__)


def review_task(rt: Runtime, goal_id: str, task_id: str, model: str,
                model_allowed: bool = True, read: Goal | None = None,
                tier: Tier | None = None, draft: Stored | None = None) -> Reviewed:
    """Review the task's latest deliverable, apply the policy, record a learning (and an item).

    Returns the step for the task and what its decision means for the goal's phases: an
    approval or escalation that was the phase's last unfinished task advances the goal. read:
    the goal as the caller just read it (saves a read); tier: the review model's tier after the
    budget's overrides, when the caller has it; draft: the deliverable as the claim read it.
    """
    goal = read if read is not None else rt.goals.load(goal_id)
    task = goal.task(task_id)
    if task.status is not TaskStatus.COMPLETED or task.output is None:
        return Reviewed(already(task.status), Move.NONE, goal)  # a copy after the decision
    deliverable = task.output
    stored = draft.text if draft is not None else rt.documents.get(goal_id, deliverable)
    text = prompt_inputs.body(deliverable, stored) or ""
    spec = rt.catalog.skill(task.skill)
    key = reply_key(goal_id, task_id, task.revision, "review")
    # P3 goals, and every goal once the budget forces haiku (critical), get structural review only.
    deep = model_allowed and not structural_only(goal.priority) and (
        tier if tier is not None else rt.budget.effective_tier("sonnet")) != "haiku"
    use_model = rt.guarded(goal_id, "director", key, goal.priority) if deep else None
    review = review_text(text, spec, use_model, model, task.requirements)
    decision = Decision(rt, task, deliverable, review, use_model.charges if use_model is not None else None)
    goal, applied = rt.goals.update(goal_id, decision.change, decision.effects, read=goal)
    return decision.outcome(goal, applied)


def fail_goal(rt: Runtime, goal_id: str, reason: str, run: int | None = None,
              only_from: tuple[GoalStatus, ...] | None = None) -> Goal:
    """Mark a goal failed with a reason (sweeper, crashed canvas); a stale run's callback changes nothing."""
    return _settle(rt, goal_id, GoalStatus.FAILED, reason, run, only_from)


def interrupt(rt: Runtime, goal_id: str, reason: str) -> Goal:
    """Stop a goal its starter interrupted: nothing new starts, steps in flight may still finish
    and be recorded, and `mtctl goals resume` continues it (a settled goal is left as it is)."""
    return _settle(rt, goal_id, GoalStatus.INTERRUPTED, reason)


def _settle(rt: Runtime, goal_id: str, status: GoalStatus, reason: str, run: int | None = None,
            only_from: tuple[GoalStatus, ...] | None = None) -> Goal:
    """Settle a goal that is not settled yet (of this run, from these statuses) with a reason."""

    def change(goal: Goal) -> None:
        if goal.status.is_settled or (run is not None and goal.run != run):
            return
        if only_from is not None and goal.status not in only_from:
            return
        goal.status = status
        goal.status_reason = reason
        goal.finished_at = utcnow()

    goal, _ = rt.goals.update(goal_id, change)
    progress.publish(rt.redis, goal_id, "goal_finished", status=goal.status.value, reason=reason)
    return goal


def cancel(rt: Runtime, goal_id: str) -> Goal:
    """Cancel a goal and its unfinished tasks."""

    def change(goal: Goal) -> None:
        if goal.status.is_final:
            raise InputError(f"goal {goal_id} is already {goal.status}")
        for task in goal.tasks:
            if not task.status.is_terminal:
                task.move(TaskStatus.CANCELLED)
        goal.status = GoalStatus.CANCELLED
        goal.finished_at = utcnow()

    def effects(goal: Goal, _: None) -> list[Staged]:
        # Read per attempt: an item created meanwhile changed the goal too, so this runs again.
        return [rt.reviews.staged(rt.reviews.decided(item, ItemStatus.CLOSED, "goal cancelled"))
                for item in rt.reviews.every(ItemStatus.OPEN) if item.goal_id == goal.id]

    goal, _ = rt.goals.update(goal_id, change, effects)
    progress.publish(rt.redis, goal_id, "goal_finished", status=goal.status.value)
    return goal
