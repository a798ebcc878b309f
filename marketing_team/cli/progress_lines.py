"""What progress means to a person: which steps are at work and since when, and the line an event
prints (shared by the plain lines and the live panel)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marketing_team.domain.goal import Goal, TaskRecord, TaskStatus
from marketing_team.domain.values import utcnow

_REVIEW_WORDS = {"approved": "approved", "revision": "sent back for revision",
                 "blocked": "waits for your review (mtctl reviews list)", "failed": "rejected"}


@dataclass
class Running:
    """One step being worked on: drafting or reviewing, since when (monotonic seconds)."""

    skill: str
    activity: str
    since: float


def running_steps(goal: Goal, known: dict[str, Running]) -> dict[str, Running]:
    """The steps at work now, keeping the start time of those already known (state, not events:
    a view that joins late or misses an event still shows the truth)."""
    now_wall, now = utcnow(), time.monotonic()
    found: dict[str, Running] = {}
    for task in goal.tasks:
        activity = _activity(task)
        if activity is None:
            continue
        before = known.get(task.id)
        if before is not None and before.activity == activity:
            found[task.id] = before
            continue
        age = max(0.0, (now_wall - task.updated_at).total_seconds())
        found[task.id] = Running(task.skill, activity, now - age)
    return found


def drafting_word(revision: int) -> str:
    """What a step drafting its first version, or revision n, is doing."""
    return "drafting" if revision == 0 else f"revising ({revision})"


def _activity(task: TaskRecord) -> str | None:
    if task.status is TaskStatus.IN_PROGRESS:
        return drafting_word(task.revision)
    if task.status is TaskStatus.COMPLETED:
        return "in review"
    return None


def event_line(goal: Goal, event: dict[str, Any]) -> str | None:
    """The line a finished or changed step prints, labelled with that step's own phase."""
    kind = event.get("event")
    total = len(goal.plan.phases)
    phase = f"[phase {_phase_of(goal, event)}/{total}]"
    skill = event.get("skill")
    if kind == "task_completed":
        revision = int(event.get("revision") or 0)
        what = "draft ready" if revision == 0 else f"revision {revision} ready"
        return f"{phase} {skill}: {what}  (${goal.cost_usd:.4f} so far)"
    if kind == "task_reviewed":
        said = _REVIEW_WORDS.get(str(event.get("status")), str(event.get("status")))
        score = _score(goal, event)
        return f"{phase} {skill}: {said}{score}"
    if kind == "task_failed":
        return f"{phase} {skill}: failed ({event.get('reason')})"
    if kind == "task_deferred":
        return f"{phase} step waits for budget: {event.get('reason')}"
    if kind == "phase_done":
        ended = int(event.get("phase") or 0)
        if event.get("next") == "wait":
            return f"phase {ended}/{total} waits for a person (mtctl reviews list)"
        return f"phase {ended}/{total} done"
    if kind == "goal_paused":
        return f"goal paused: {event.get('reason')}"
    return None


def event_phase(goal: Goal, event: dict[str, Any]) -> int:
    """The phase (1-based) an event is about: its step's, the phase it ended, else the goal's."""
    if event.get("event") == "phase_done":
        return int(event.get("phase") or goal.phase_number)
    return _phase_of(goal, event)


def _phase_of(goal: Goal, event: dict[str, Any]) -> int:
    task_id = event.get("task_id")
    for task in goal.tasks:
        if task.id == task_id:
            return task.phase_index + 1
    return goal.phase_number


def _score(goal: Goal, event: dict[str, Any]) -> str:
    for task in goal.tasks:
        if task.id == event.get("task_id") and task.last_review and task.last_review.overall:
            return f" (score {task.last_review.overall:.1f})"
    return ""


def tick(done: threading.Event, every_s: float, action: Callable[[], None]) -> None:
    """Call action every every_s seconds until done is set."""
    while not done.wait(every_s):
        action()
