"""How a goal moves between phases: the last task out advances, under compare-and-set.

Advancement never trusts a chord's bookkeeping. Every change that moves a task to a final state
(approved, failed, blocked) asks `after_final` in the same transaction: when it was the last
unfinished task of its phase, the goal advances there and then, and this caller alone is told to
publish the next phase (the claim is recorded before anything is published). The chord's join
(`advance`) only repeats that check, so a lost, expired or early join changes nothing.
"""

from __future__ import annotations

from enum import StrEnum

from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import InputError
from marketing_team.domain.goal import Goal, GoalStatus, TaskStatus
from marketing_team.domain.learning import Learning, Outcome
from marketing_team.domain.values import utcnow
from marketing_team.observability import progress
from marketing_team.store.goals import Staged

ACTIVE = (GoalStatus.RUNNING, GoalStatus.WAITING_BUDGET)


class Move(StrEnum):
    """What a goal's state change means for its phases."""

    NONE = "none"  # the phase is still under way, or the goal is not running
    WAIT = "wait"  # a task of the phase waits for a person
    PUBLISH = "publish"  # the goal's current phase is this caller's to publish (claimed)
    FINISH = "finish"  # the goal settled


def _done(status: TaskStatus) -> bool:
    return status.is_terminal or status is TaskStatus.BLOCKED


def after_final(goal: Goal) -> Move:
    """Call in the transaction that moved a task to a final state: advance when it was the last one."""
    if goal.status not in ACTIVE or goal.current_phase >= len(goal.plan.phases):
        return Move.NONE
    tasks = goal.phase_tasks(goal.current_phase)
    if not all(_done(t.status) for t in tasks):
        return Move.NONE  # a task of this phase is still under way elsewhere
    blocked = [t.skill for t in tasks if t.status is TaskStatus.BLOCKED]
    if blocked:
        goal.status = GoalStatus.WAITING_HUMAN
        goal.status_reason = "human review needed for " + ", ".join(blocked)
        return Move.WAIT
    goal.current_phase += 1
    goal.republished = 0
    if goal.current_phase >= len(goal.plan.phases):
        settle(goal)
        return Move.FINISH
    goal.dispatched_phase = goal.current_phase  # claimed: the caller publishes it
    return Move.PUBLISH


def settle(goal: Goal) -> None:
    """The goal's final status once every phase ran: completed unless a task is not approved."""
    rejected = [t for t in goal.tasks if (t.error or "").startswith("rejected by a human")]
    failed = [t for t in goal.tasks if t.status is not TaskStatus.APPROVED and t not in rejected]
    goal.status = GoalStatus.FAILED if failed else GoalStatus.COMPLETED
    goal.status_reason = (f"{len(failed)} task(s) not approved" if failed else
                          f"{len(rejected)} task(s) rejected by a reviewer" if rejected else "")
    goal.finished_at = utcnow()


_NEXT = {Move.PUBLISH: "dispatch", Move.FINISH: "finish", Move.WAIT: "wait"}


def move_notices(goal: Goal, move: Move, started: bool = False) -> list[progress.Notice]:
    """What followers hear of a move, sent with the transition: which phase ended and what comes
    next (not for a goal's start), and the goal's end."""
    notices: list[progress.Notice] = []
    if not started and move in _NEXT:
        ended = goal.current_phase + (1 if move is Move.WAIT else 0)
        notices.append(progress.Notice(goal.id, "phase_done", phase=ended, next=_NEXT[move],
                                       status=goal.status.value))
    if move is Move.FINISH:
        notices.append(progress.Notice(goal.id, "goal_finished", status=goal.status.value,
                                       cost_usd=str(goal.cost_usd), reason=goal.status_reason))
    return notices


def move_effects(rt: Runtime, goal: Goal, move: Move, started: bool = False) -> list[Staged]:
    """What a phase move commits with its transition (once): the publication a claim owes, or
    the Director's learning when the goal finished; and what followers hear of it."""
    return [*_move_writes(rt, goal, move), *move_notices(goal, move, started)]


def _move_writes(rt: Runtime, goal: Goal, move: Move) -> list[Staged]:
    if move is Move.PUBLISH:
        return [rt.outbox.staged(goal.id, goal.run, goal.current_phase)]
    if move is not Move.FINISH:
        return []
    ok = goal.status is GoalStatus.COMPLETED
    return [rt.learnings.staged(Learning(
        skill="director", goal_id=goal.id, category=goal.category,
        outcome=Outcome.SUCCESS if ok else Outcome.FAILURE,
        lesson=(f"Plan {goal.plan.template or goal.plan.source} for a {goal.category} goal "
                f"{'completed' if ok else 'ended ' + goal.status.value} with "
                f"{sum(t.revision for t in goal.tasks)} revision(s), cost ${goal.cost_usd:.4f}."),
        tags=(goal.category.value,), confidence=0.5, offline=rt.offline))]


def advance(rt: Runtime, goal_id: str, phase_index: int, run: int) -> tuple[Goal, Move]:
    """The chord join's check: advance if the last task out did not (safe to repeat, stale runs ignored)."""

    def change(goal: Goal) -> Move:
        if goal.run != run or goal.current_phase != phase_index:
            return Move.NONE  # an earlier run's join, or the phase moved on already
        return after_final(goal)

    return rt.goals.update(goal_id, change, lambda goal, move: move_effects(rt, goal, move))


def claim_start(rt: Runtime, goal_id: str, read: Goal | None = None) -> tuple[Goal, Move]:
    """Mark the goal running and claim its current phase for this run's publisher (once per run).

    read: the goal as the caller just read it (saves reading it again)."""

    def change(goal: Goal) -> Move:
        if goal.status.is_final:
            return Move.NONE
        goal.status = GoalStatus.RUNNING
        goal.status_reason = ""
        if goal.current_phase >= len(goal.plan.phases):
            settle(goal)  # every phase ran already (a finish lost to a crash)
            return Move.FINISH
        if goal.dispatched_phase >= goal.current_phase:
            return Move.NONE  # published in this run already
        goal.dispatched_phase = goal.current_phase
        return Move.PUBLISH

    return rt.goals.update(goal_id, change,
                           lambda goal, move: move_effects(rt, goal, move, started=True), read=read)


def reopen(rt: Runtime, goal_id: str) -> Goal:
    """Make a stopped goal runnable again from its first unfinished task, as a new run.

    The run number goes up, so every message of earlier runs still queued or held somewhere ends
    as a no-op when it arrives; the new run's canvas is published by `claim_start`.
    """

    def change(goal: Goal) -> None:
        if goal.status in (GoalStatus.COMPLETED, GoalStatus.CANCELLED):
            raise InputError(f"goal {goal_id} is {goal.status}; nothing to resume")
        for task in goal.tasks:
            if task.status is TaskStatus.DEFERRED:
                task.move(TaskStatus.PENDING)
        goal.run += 1
        goal.dispatched_phase = goal.current_phase - 1
        goal.republished = 0
        goal.status = GoalStatus.RUNNING
        goal.status_reason = ""
        goal.consecutive_failures = 0
        goal.finished_at = None

    goal, _ = rt.goals.update(goal_id, change)
    return goal
