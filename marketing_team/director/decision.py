"""A review's verdict applied to its task: the goal change, and what commits with it.

The change is made by whoever holds the verdict: the review task after its review, or, for a
step whose review is structural only, the draft's own record (one goal write for both).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import NamedTuple

from marketing_team.director.phases import Move, after_final, move_effects
from marketing_team.director.review import review_document
from marketing_team.director.review_policy import NextStep, apply_step, next_step
from marketing_team.director.runtime import Runtime
from marketing_team.domain.goal import Goal, TaskRecord, TaskStatus
from marketing_team.domain.learning import Learning, Outcome
from marketing_team.domain.review import Review
from marketing_team.domain.review_item import Reason
from marketing_team.observability import progress
from marketing_team.store.goals import Staged

log = logging.getLogger(__name__)
Applied = tuple[NextStep, Move] | None  # None: the decision had been made already (or was stale)


class Reviewed(NamedTuple):
    """A review's outcome: the step for the task, what it means for the goal's phases, the goal after it."""

    step: NextStep
    move: Move
    goal: Goal


def already(status: TaskStatus) -> NextStep:
    """The step a redelivered review re-issues for a task it finds already decided."""
    if status is TaskStatus.APPROVED:
        return NextStep.APPROVE
    return NextStep.REVISE if status is TaskStatus.REVISION else NextStep.ESCALATE


def _lesson(task: TaskRecord, step: NextStep) -> tuple[Outcome, str]:
    review = task.last_review
    issues = "; ".join(f.description for f in (review.findings if review else ())[:3])
    if step is NextStep.APPROVE:
        extra = f" after {task.revision} revision(s)" if task.revision else " first time"
        return Outcome.SUCCESS, f"Approved{extra}" + (f" (overall {review.overall})" if review and review.overall else "")
    if step is NextStep.ESCALATE:
        return Outcome.FAILURE, f"Escalated to a human: {issues or 'repeated review failures'}"
    return Outcome.PARTIAL, f"Sent back for revision: {issues or 'quality below the bar'}"


class Decision:
    """One review's verdict on one revision's deliverable, to apply in a goal change.

    paid: what the review's model requests were settled at (identity, cost), charged to the goal.
    """

    def __init__(self, rt: Runtime, task: TaskRecord, deliverable: str, review: Review,
                 paid: list[tuple[str, Decimal]] | None = None) -> None:
        self.rt = rt
        self.task = task
        self.deliverable = deliverable
        self.review = review
        self.paid = paid
        self.written = rt.documents.staged(task.goal_id, *review_document(deliverable, review))

    def change(self, goal: Goal) -> Applied:
        """Apply the verdict to the task (and the phase it may finish); None when not this one's to."""
        current = goal.task(self.task.id)
        if self.paid is not None and current.revision == self.task.revision:
            # Every paid request of the review counts, also attempts that failed validation before
            # the structural verdict stood in, and a review that ended after a cancel (the ledger
            # has them all); each paid reply once, whichever copies paid for it.
            goal.charge(self.task.id, self.paid, to_task=False)
        if current.status is not TaskStatus.COMPLETED or current.revision != self.task.revision:
            return None  # a copy of this review applied it first, or it judged an older revision
        if current.output != self.deliverable:
            return None
        step = next_step(current, self.review)
        apply_step(current, self.review, step)
        if step is NextStep.APPROVE:
            goal.consecutive_failures = 0
        final = step in (NextStep.APPROVE, NextStep.ESCALATE)
        return step, after_final(goal) if final else Move.NONE

    def announced(self, goal: Goal, step: NextStep) -> progress.Notice:
        """The notice of the decision, for followers."""
        return progress.Notice(self.task.goal_id, "task_reviewed", task_id=self.task.id,
                               skill=self.task.skill, verdict=self.review.verdict.value,
                               decision=step.value, status=goal.task(self.task.id).status.value,
                               document=self.written.name)

    def effects(self, goal: Goal, applied: Applied) -> list[Staged]:
        """What commits with the decision: its document, the learning, an item on escalation."""
        if applied is None:
            return []  # the transition happened before: so did its learning and item
        step, move = applied
        rt, goal_id, current = self.rt, self.task.goal_id, goal.task(self.task.id)
        outcome, lesson = _lesson(current, step)
        staged: list[Staged] = [rt.learnings.staged(Learning(
            skill=current.skill, goal_id=goal_id, category=goal.category, outcome=outcome,
            lesson=lesson, tags=(step.value,), offline=rt.offline, confidence=0.6 if outcome is Outcome.SUCCESS else 0.7))]
        if step is NextStep.ESCALATE:
            # Created with the transition that blocks the task: never a wait with no item.
            review = self.review
            reason = Reason.REJECTED if review.verdict.value == "REJECT" else Reason.REPEATED_REVISIONS
            staged.append(rt.reviews.staged(rt.reviews.new_item(
                goal_id, reason, f"{current.skill} did not pass review after {current.revision} "
                f"revision(s):\n" + (review.feedback or review.note), task_id=current.id,
                skill=current.skill, deliverable=self.deliverable)))
        # The review document commits with the decision it explains.
        return [self.written, *staged, self.announced(goal, step), *move_effects(rt, goal, move)]

    def outcome(self, goal: Goal, applied: Applied) -> Reviewed:
        """The review's outcome once its change was written (goal: as the write left it)."""
        task = goal.task(self.task.id)
        step, move = applied if applied is not None else (already(task.status), Move.NONE)
        log.info("task reviewed", extra={"event": "task_reviewed", "goal_id": goal.id,
                                         "task_id": task.id, "skill": task.skill,
                                         "verdict": self.review.verdict.value, "decision": step.value})
        if applied is None:  # a copy that found the decision made: announced all the same, as before
            progress.send(self.rt.redis, self.announced(goal, step))
        return Reviewed(step, move, goal)
