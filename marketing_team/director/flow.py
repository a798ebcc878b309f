"""What happens to a goal's tasks: the review of a finished draft, a failed goal, a cancel (no Celery here)."""

from __future__ import annotations

import logging
from typing import NamedTuple

from marketing_team.director import prompt_inputs
from marketing_team.director.phases import Move, after_final, move_effects
from marketing_team.director.review import review_document, review_text
from marketing_team.director.review_policy import NextStep, apply_step, next_step, structural_only
from marketing_team.director.runtime import Runtime
from marketing_team.director.skill_run import Stored
from marketing_team.domain.errors import InputError
from marketing_team.domain.goal import Goal, GoalStatus, TaskRecord, TaskStatus
from marketing_team.domain.learning import Learning, Outcome
from marketing_team.domain.review_item import ItemStatus, Reason
from marketing_team.domain.values import Tier, utcnow
from marketing_team.observability import progress
from marketing_team.store.goals import Staged
from marketing_team.store.replies import reply_key

log = logging.getLogger(__name__)


def _lesson(task: TaskRecord, step: NextStep) -> tuple[Outcome, str]:
    review = task.last_review
    issues = "; ".join(f.description for f in (review.findings if review else ())[:3])
    if step is NextStep.APPROVE:
        extra = f" after {task.revision} revision(s)" if task.revision else " first time"
        return Outcome.SUCCESS, f"Approved{extra}" + (f" (overall {review.overall})" if review and review.overall else "")
    if step is NextStep.ESCALATE:
        return Outcome.FAILURE, f"Escalated to a human: {issues or 'repeated review failures'}"
    return Outcome.PARTIAL, f"Sent back for revision: {issues or 'quality below the bar'}"


class Reviewed(NamedTuple):
    """A review's outcome: the step for the task, what it means for the phases, the goal after it."""

    step: NextStep
    move: Move
    goal: Goal


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
        return Reviewed(_already(task.status), Move.NONE, goal)  # a copy after the decision
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
    written = rt.documents.staged(goal_id, *review_document(deliverable, review))

    def change(goal: Goal) -> tuple[NextStep, Move] | None:
        current = goal.task(task_id)
        if use_model is not None and current.revision == task.revision:
            # Every paid request of the review counts, also attempts that failed validation before
            # the structural verdict stood in, and a review that ended after a cancel (the ledger
            # has them all); each paid reply once, whichever copies paid for it.
            goal.charge(task_id, use_model.charges, to_task=False)
        if current.status is not TaskStatus.COMPLETED or current.revision != task.revision:
            return None  # a copy of this review applied it first, or it judged an older revision
        if current.output != deliverable:
            return None
        step = next_step(current, review)
        apply_step(current, review, step)
        if step is NextStep.APPROVE:
            goal.consecutive_failures = 0
        final = step in (NextStep.APPROVE, NextStep.ESCALATE)
        return step, after_final(goal) if final else Move.NONE

    def announced(goal: Goal, step: NextStep) -> progress.Notice:
        return progress.Notice(goal_id, "task_reviewed", task_id=task_id, skill=task.skill,
                               verdict=review.verdict.value, decision=step.value,
                               status=goal.task(task_id).status.value,
                               document=written.name)

    def effects(goal: Goal, applied: tuple[NextStep, Move] | None) -> list[Staged]:
        if applied is None:
            return []  # the transition happened before: so did its learning and item
        step, move = applied
        current = goal.task(task_id)
        outcome, lesson = _lesson(current, step)
        staged: list[Staged] = [rt.learnings.staged(Learning(
            skill=current.skill, goal_id=goal_id, category=goal.category, outcome=outcome,
            lesson=lesson, tags=(step.value,), offline=rt.offline, confidence=0.6 if outcome is Outcome.SUCCESS else 0.7))]
        if step is NextStep.ESCALATE:
            # Created with the transition that blocks the task: never a wait with no item.
            reason = Reason.REJECTED if review.verdict.value == "REJECT" else Reason.REPEATED_REVISIONS
            staged.append(rt.reviews.staged(rt.reviews.new_item(
                goal_id, reason, f"{current.skill} did not pass review after {current.revision} "
                f"revision(s):\n" + (review.feedback or review.note), task_id=task_id,
                skill=current.skill, deliverable=deliverable)))
        # The review document commits with the decision it explains.
        return [written, *staged, announced(goal, step), *move_effects(rt, goal, move)]

    goal, applied = rt.goals.update(goal_id, change, effects, read=goal)
    task = goal.task(task_id)
    step, move = applied if applied is not None else (_already(task.status), Move.NONE)
    log.info("task reviewed", extra={"event": "task_reviewed", "goal_id": goal_id, "task_id": task_id,
                                     "skill": task.skill, "verdict": review.verdict.value,
                                     "decision": step.value})
    if applied is None:  # a copy that found the decision made: announced all the same, as before
        progress.send(rt.redis, announced(goal, step))
    return Reviewed(step, move, goal)


def _already(status: TaskStatus) -> NextStep:
    """The step a redelivered review re-issues for a task it finds already decided."""
    if status is TaskStatus.APPROVED:
        return NextStep.APPROVE
    return NextStep.REVISE if status is TaskStatus.REVISION else NextStep.ESCALATE


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
