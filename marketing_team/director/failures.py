"""A task that failed for good: recorded, learned from, and the cascade that pauses a goal for a person.

One transaction moves the task to failed, counts the failure, pauses the goal at the third in a
row (with its review item) or else lets the last task out advance the phase.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import JsonValue

from marketing_team.director.flow import fail_goal
from marketing_team.director.phases import ACTIVE, Move, after_final, move_effects
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import ProviderBillingError
from marketing_team.domain.event import Event, EventType
from marketing_team.domain.goal import Goal, GoalStatus, TaskStatus
from marketing_team.domain.learning import Learning, Outcome
from marketing_team.domain.review_item import Reason
from marketing_team.observability import progress
from marketing_team.store.goals import Staged

CASCADE_LIMIT = 3
CASCADE_REASON = "cascading failure"


def pause_reason(goal: Goal) -> str | None:
    """Why a goal is paused by a cascade of failures, or None when it is not."""
    if goal.status is GoalStatus.WAITING_HUMAN and goal.status_reason.startswith(CASCADE_REASON):
        return goal.status_reason
    return None


@dataclass(frozen=True)
class Failed:
    """What recording a failure did: the phase move, and the pipeline_blocked event when it paused."""

    move: Move
    blocked: Event | None = None


def fail_task(rt: Runtime, goal_id: str, task_id: str, reason: str) -> Failed:
    """Record a task's permanent failure; a redelivered failure of a finished task changes nothing."""

    def change(goal: Goal) -> tuple[bool, Move, bool]:
        task = goal.task(task_id)
        if task.status.is_terminal:
            return False, Move.NONE, False  # failed (or finished) already: nothing new happened
        task.move(TaskStatus.FAILED)
        task.error = reason[:500]
        goal.consecutive_failures += 1
        if goal.consecutive_failures >= CASCADE_LIMIT and goal.status in ACTIVE:
            goal.status = GoalStatus.WAITING_HUMAN
            goal.status_reason = (f"{CASCADE_REASON}: {goal.consecutive_failures} tasks failed in a "
                                  f"row (last {task.skill}: {reason[:160]})")
            return True, Move.WAIT, True
        return True, after_final(goal), False

    def effects(goal: Goal, outcome: tuple[bool, Move, bool]) -> list[Staged]:
        failed, move, paused = outcome
        if not failed:
            return []
        task = goal.task(task_id)
        staged: list[Staged] = [rt.learnings.staged(Learning(
            skill=task.skill, goal_id=goal_id, category=goal.category, outcome=Outcome.FAILURE,
            lesson=f"Failed: {reason[:300]}", tags=("failure",), offline=rt.offline, confidence=0.6))]
        if paused:  # the person's item commits with the pause: never a wait with no item
            staged.append(rt.reviews.staged(rt.reviews.new_item(
                goal_id, Reason.CASCADING_FAILURE, goal.status_reason, task_id=task_id,
                skill=task.skill)))
        return staged + move_effects(rt, goal, move)

    goal, (failed, move, paused) = rt.goals.update(goal_id, change, effects)
    task = goal.task(task_id)
    if failed:
        progress.publish(rt.redis, goal_id, "task_failed", task_id=task_id, skill=task.skill,
                         reason=reason[:200])
    if not paused:
        return Failed(move)
    progress.publish(rt.redis, goal_id, "goal_paused", reason=goal.status_reason,
                     status=goal.status.value)
    data: dict[str, JsonValue] = {"goal_id": goal_id, "task_id": task_id, "skill": task.skill,
                                  "failures": goal.consecutive_failures, "reason": goal.status_reason}
    return Failed(move, Event(type=EventType.PIPELINE_BLOCKED, source="director", data=data))


def untrusted_provider(rt: Runtime, goal_id: str, task_id: str,
                       error: ProviderBillingError) -> Event:
    """Stop a goal whose provider reported usage that cannot be true; the event to emit.

    The bound of that request was recorded already, and the goal's cost counts it (once per call
    key, as a call that succeeded is counted); nothing else of the goal runs on a reply whose
    billing we cannot believe.
    """
    reason = str(error)

    def count(goal: Goal) -> None:
        goal.charge(task_id, error.charges)

    rt.goals.update(goal_id, count)
    fail_goal(rt, goal_id, f"stopped: the provider's billing cannot be trusted ({reason})"[:500])
    data: dict[str, JsonValue] = {"goal_id": goal_id, "task_id": task_id, "reason": reason[:500]}
    return Event(type=EventType.AGENT_FAILURE, source="director", data=data)
