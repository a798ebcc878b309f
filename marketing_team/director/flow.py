"""How a goal moves: review a finished task, advance a phase, finish, resume, cancel (no Celery here)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from marketing_team.director.review import review_document, review_text
from marketing_team.director.review_policy import NextStep, apply_step, next_step
from marketing_team.director.runtime import Runtime
from marketing_team.director.skill_run import deliverable_body
from marketing_team.domain.errors import InputError
from marketing_team.domain.goal import Goal, GoalStatus, TaskRecord, TaskStatus
from marketing_team.domain.learning import Learning, Outcome
from marketing_team.domain.review_item import Reason
from marketing_team.domain.values import utcnow
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


def review_task(rt: Runtime, goal_id: str, task_id: str, model: str,
                model_allowed: bool = True) -> NextStep:
    """Review the task's latest deliverable, apply the policy, record a learning (and an item)."""
    goal = rt.goals.load(goal_id)
    task = goal.task(task_id)
    if task.status is TaskStatus.REVISION:
        return NextStep.REVISE  # redelivered after the decision was saved: re-issue the revision
    if task.status is not TaskStatus.COMPLETED or task.output is None:
        return NextStep.APPROVE if task.status is TaskStatus.APPROVED else NextStep.ESCALATE
    deliverable = task.output
    text = deliverable_body(rt, goal_id, deliverable) or ""
    spec = rt.catalog.skill(task.skill)
    key = reply_key(goal_id, task_id, task.revision, "review")
    # P3 goals, and every goal once the budget forces haiku (critical), get structural review only.
    deep = model_allowed and goal.priority.rank < 3 and rt.budget.effective_tier("sonnet") != "haiku"
    use_model = rt.guarded(goal_id, "director", key) if deep else None
    review, reply = review_text(text, spec, use_model, model, task.requirements)
    rt.documents.put(goal_id, *review_document(deliverable, review))

    def change(goal: Goal) -> NextStep | None:
        current = goal.task(task_id)
        if current.status is not TaskStatus.COMPLETED:  # a redelivered review already applied
            return None
        step = next_step(current, review)
        apply_step(current, review, step)
        if reply is not None:
            goal.cost_usd += reply.cost_usd
        if step is NextStep.APPROVE:
            goal.consecutive_failures = 0
        return step

    def effects(goal: Goal, step: NextStep | None) -> list[Staged]:
        if step is None:
            return []  # the transition happened before: so did its learning and item
        current = goal.task(task_id)
        outcome, lesson = _lesson(current, step)
        staged: list[Staged] = [rt.learnings.staged(Learning(
            skill=current.skill, goal_id=goal_id, category=goal.category, outcome=outcome,
            lesson=lesson, tags=(step.value,), confidence=0.6 if outcome is Outcome.SUCCESS else 0.7))]
        if step is NextStep.ESCALATE:
            # Created with the transition that blocks the task: never a wait with no item.
            reason = Reason.REJECTED if review.verdict.value == "REJECT" else Reason.REPEATED_REVISIONS
            staged.append(rt.reviews.staged(rt.reviews.new_item(
                goal_id, reason, f"{current.skill} did not pass review after {current.revision} "
                f"revision(s):\n" + (review.feedback or review.note), task_id=task_id,
                skill=current.skill, deliverable=deliverable)))
        return staged

    goal, applied = rt.goals.update(goal_id, change, effects)
    task = goal.task(task_id)
    step = applied if applied is not None else _already(task.status)
    log.info("task reviewed", extra={"event": "task_reviewed", "goal_id": goal_id, "task_id": task_id,
                                     "skill": task.skill, "verdict": review.verdict.value,
                                     "decision": step.value})
    progress.publish(rt.redis, goal_id, "task_reviewed", task_id=task_id, skill=task.skill,
                     verdict=review.verdict.value, decision=step.value, status=task.status.value,
                     document=review_document(deliverable, review)[0])
    return step


def _already(status: TaskStatus) -> NextStep:
    """The step a redelivered review re-issues for a task it finds already decided."""
    if status is TaskStatus.APPROVED:
        return NextStep.APPROVE
    return NextStep.REVISE if status is TaskStatus.REVISION else NextStep.ESCALATE


@dataclass(frozen=True)
class Next:
    """What advance decided: dispatch phase `index`, finish, or nothing (waiting or duplicate)."""

    action: str  # "dispatch" | "finish" | "wait" | "noop"
    index: int = 0


def advance(rt: Runtime, goal_id: str, phase_index: int) -> Next:
    """Record a finished phase and say what comes next; safe to run twice for the same phase."""

    def change(goal: Goal) -> Next:
        if goal.status.is_settled:
            return Next("noop")
        if goal.current_phase == phase_index + 1 and goal.dispatched_phase < goal.current_phase:
            # Redelivered after this phase was recorded but before the next was published.
            if goal.current_phase >= len(goal.plan.phases):
                return Next("finish")
            return Next("dispatch", goal.current_phase)
        if goal.current_phase != phase_index:
            return Next("noop")
        tasks = goal.phase_tasks(phase_index)
        blocked = [t for t in tasks if t.status is TaskStatus.BLOCKED]
        if blocked:
            goal.status = GoalStatus.WAITING_HUMAN
            goal.status_reason = "human review needed for " + ", ".join(t.skill for t in blocked)
            return Next("wait")
        if any(not t.status.is_terminal for t in tasks):
            return Next("noop")  # a task of this phase is still under way elsewhere
        goal.current_phase += 1
        if goal.current_phase >= len(goal.plan.phases):
            return Next("finish")
        return Next("dispatch", goal.current_phase)

    goal, nxt = rt.goals.update(goal_id, change)
    progress.publish(rt.redis, goal_id, "phase_done", phase=phase_index + 1, next=nxt.action,
                     status=goal.status.value)
    return nxt


def finish(rt: Runtime, goal_id: str) -> Goal:
    """Settle the goal's final status and record the Director's learning (once)."""

    def change(goal: Goal) -> bool:
        if goal.status.is_settled:
            return False
        rejected = [t for t in goal.tasks if (t.error or "").startswith("rejected by a human")]
        failed = [t for t in goal.tasks if t.status is not TaskStatus.APPROVED and t not in rejected]
        goal.status = GoalStatus.FAILED if failed else GoalStatus.COMPLETED
        goal.status_reason = (f"{len(failed)} task(s) not approved" if failed else
                              f"{len(rejected)} task(s) rejected by a reviewer" if rejected else "")
        goal.finished_at = utcnow()
        return True

    def learned(goal: Goal, settled_now: bool) -> list[Staged]:
        if not settled_now:
            return []  # a redelivered finish: the learning was recorded with the first
        ok = goal.status is GoalStatus.COMPLETED
        return [rt.learnings.staged(Learning(
            skill="director", goal_id=goal_id, category=goal.category,
            outcome=Outcome.SUCCESS if ok else Outcome.FAILURE,
            lesson=(f"Plan {goal.plan.template or goal.plan.source} for a {goal.category} goal "
                    f"{'completed' if ok else 'ended ' + goal.status.value} with "
                    f"{sum(t.revision for t in goal.tasks)} revision(s), cost ${goal.cost_usd:.4f}."),
            tags=(goal.category.value,), confidence=0.5))]

    goal, _ = rt.goals.update(goal_id, change, learned)
    progress.publish(rt.redis, goal_id, "goal_finished", status=goal.status.value, cost_usd=str(goal.cost_usd))
    return goal


def fail_goal(rt: Runtime, goal_id: str, reason: str) -> Goal:
    """Mark a goal failed with a reason (watchdog, crashed canvas)."""

    def change(goal: Goal) -> None:
        if not goal.status.is_settled:
            goal.status = GoalStatus.FAILED
            goal.status_reason = reason
            goal.finished_at = utcnow()

    goal, _ = rt.goals.update(goal_id, change)
    progress.publish(rt.redis, goal_id, "goal_finished", status=goal.status.value, reason=reason)
    return goal


def reopen(rt: Runtime, goal_id: str) -> Goal:
    """Make a stopped goal runnable again from its first unfinished task."""

    def change(goal: Goal) -> None:
        if goal.status in (GoalStatus.COMPLETED, GoalStatus.CANCELLED):
            raise InputError(f"goal {goal_id} is {goal.status}; nothing to resume")
        for task in goal.tasks:
            if task.status is TaskStatus.DEFERRED:
                task.move(TaskStatus.PENDING)
        goal.status = GoalStatus.RUNNING
        goal.status_reason = ""
        goal.consecutive_failures = 0
        goal.finished_at = None

    goal, _ = rt.goals.update(goal_id, change)
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

    goal, _ = rt.goals.update(goal_id, change)
    progress.publish(rt.redis, goal_id, "goal_finished", status=goal.status.value)
    return goal
