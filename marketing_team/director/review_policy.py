"""The revise/reject policy: what happens to a reviewed task (approve, revise, retry, escalate)."""

from __future__ import annotations

from enum import StrEnum

from marketing_team.domain.goal import Priority, TaskRecord, TaskStatus
from marketing_team.domain.review import Review, Verdict

MAX_REVISIONS = 3
MAX_FRESH_ATTEMPTS = 1


class NextStep(StrEnum):
    """What happens to a reviewed task."""

    APPROVE = "approve"
    REVISE = "revise"
    RETRY = "retry"  # a fresh attempt after a rejection
    ESCALATE = "escalate"


def structural_only(priority: Priority) -> bool:
    """True when a goal of this priority gets the structural review alone, never a model's (P3)."""
    return priority.rank >= 3


def next_step(task: TaskRecord, review: Review) -> NextStep:
    """REVISE up to 3 times, REJECT gets one fresh attempt, anything beyond goes to a human."""
    if review.verdict is Verdict.APPROVE:
        return NextStep.APPROVE
    if review.verdict is Verdict.REVISE:
        return NextStep.REVISE if task.revision - task.fresh_attempts < MAX_REVISIONS else NextStep.ESCALATE
    return NextStep.RETRY if task.fresh_attempts < MAX_FRESH_ATTEMPTS else NextStep.ESCALATE


def apply_step(task: TaskRecord, review: Review, step: NextStep) -> None:
    """Move the task per the step and set up its next run."""
    task.last_review = review
    if step is NextStep.APPROVE:
        task.move(TaskStatus.APPROVED)
    elif step is NextStep.REVISE:
        task.move(TaskStatus.REVISION)
        task.revision += 1
        task.feedback = review.feedback or "Revise the deliverable to meet the brief."
    elif step is NextStep.RETRY:
        task.move(TaskStatus.REVISION)
        task.revision += 1
        task.fresh_attempts += 1
        task.feedback = None  # a fresh attempt starts from the brief, not the rejected draft
    else:
        task.move(TaskStatus.BLOCKED)
