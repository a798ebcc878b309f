"""The gates at the Celery edge: before a step's body runs, and when the hard cap refuses a call in it.

Called from `TeamTask.before_start` (a signal receiver cannot veto: Celery logs and swallows what
it raises). Nothing is vetoed by failing the task: a step the budget does not allow is parked in
Redis (or its goal stopped) and its message ends with `Ignore`, so no chord, errback or retry
waits for it in a worker's memory; the sweeper republishes it when the level allows.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from celery import Task
from celery.exceptions import Ignore

from marketing_team.budget.policy import Admission, BudgetLevel
from marketing_team.director.phases import ACTIVE
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import BudgetDeferred, BudgetError, CatalogMismatchError
from marketing_team.domain.goal import Goal, GoalStatus
from marketing_team.observability import progress
from marketing_team.store.parked import ParkedStep, ParkedWork

log = logging.getLogger(__name__)

# A parked step is checked again after 2 s, then 4, 8 … up to 5 minutes: quick to resume after
# the budget is raised, cheap while it waits (a check is two Redis reads, never a model call).
PARK_FIRST_S = 2
PARK_MAX_S = 300
# A task refused for its catalog goes back to the queue this often (another worker may match).
CATALOG_RETRIES = 5
CATALOG_RETRY_S = 2


_READ = "mt_goal"  # the goal as the gate read it, on the execution's request (thread-local)
_LEVEL = "mt_level"  # the budget level the gate admitted it at


def admitted(task: Task, goal_id: str) -> Goal | None:
    """The goal as this execution's gate read it, for the body to start from (None if it did not).

    A copy a few microseconds old: whatever the body changes goes through compare-and-set, which
    starts again from the stored state if the goal moved on meanwhile.
    """
    goal = getattr(task.request, _READ, None)
    return goal if isinstance(goal, Goal) and goal.id == goal_id else None


def admitted_level(task: Task) -> BudgetLevel | None:
    """The budget level this execution was admitted at (its soft choices reuse it; None if not)."""
    level = getattr(task.request, _LEVEL, None)
    return level if isinstance(level, BudgetLevel) else None


def gated(name: str) -> bool:
    """True for the tasks that spend: skills and reviews."""
    return name.startswith("skills.") or name == "director.review"


def ids(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str, int]:
    """(goal id, task id, run) of a gated task's arguments."""
    goal_id = kwargs.get("goal_id", args[0] if args else None)
    task_id = kwargs.get("task_id", args[1] if len(args) > 1 else None)
    run = kwargs.get("run", args[2] if len(args) > 2 else 0)
    return str(goal_id), str(task_id), int(run)


def park_wait(waits: int) -> int:
    """Seconds before a parked step is checked again, after it waited `waits` times."""
    wait: int = min(PARK_MAX_S, PARK_FIRST_S * 2 ** min(waits, 16))
    return wait


def before_task(task: Task, rt: Runtime, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Admit a gated step, or park it (defer) or stop its goal (exhausted) and end the message."""
    if not gated(task.name):
        return
    goal_id, task_id, run = ids(args, kwargs)
    goal, admission = rt.budget.load_and_admit(goal_id)
    setattr(task.request, _READ, goal)
    if goal.run != run or goal.status not in ACTIVE:
        return  # a stale copy, or a paused or settled goal: the body ends it quietly
    check_catalog(task, rt, goal)
    setattr(task.request, _LEVEL, admission.level)
    if admission.kind != "run":
        refuse(rt, goal, task_id, run, admission)
    if goal.status is GoalStatus.WAITING_BUDGET:
        setattr(task.request, _READ, None)  # changed below: the body reads it afresh
        rt.budget.set_status(goal_id, GoalStatus.RUNNING, "", only_from=(GoalStatus.WAITING_BUDGET,))
        progress.publish(rt.redis, goal_id, "goal_resumed", reason="budget allows it again")


def check_catalog(task: Task, rt: Runtime, goal: Goal) -> None:
    """Refuse a goal planned with another catalog: another worker may have the right one.

    The task goes back to the queue a few times (a worker of the right catalog takes it), then
    fails with the reason, which fails the goal by name instead of running a different skill.
    """
    planned = goal.catalog_fingerprint
    if not planned or planned == rt.catalog.fingerprint:
        return
    reason = (f"goal {goal.id} was planned with catalog {planned}; this worker has "
              f"{rt.catalog.fingerprint} (MT_CATALOG_DIR or package version differ)")
    log.warning("catalog mismatch", extra={"event": "catalog_mismatch", "goal_id": goal.id,
                                           "reason": reason})
    if task.request.retries < CATALOG_RETRIES:
        raise task.retry(countdown=CATALOG_RETRY_S, exc=CatalogMismatchError(reason),
                         max_retries=task.request.retries + 1)
    raise CatalogMismatchError(reason)


def after_refusal(task: Task, rt: Runtime, args: tuple[Any, ...], kwargs: dict[str, Any],
                  exc: BudgetError) -> None:
    """A refusal raised inside a step's body (the hard cap): park the step or stop its goal."""
    if not gated(task.name):
        return  # not a goal's skill or review: the error fails the task as it is
    goal_id, task_id, run = ids(args, kwargs)
    admission = Admission("defer" if isinstance(exc, BudgetDeferred) else "exhausted", str(exc))
    refuse(rt, rt.goals.load(goal_id), task_id, run, admission)


def refuse(rt: Runtime, goal: Goal, task_id: str, run: int, admission: Admission) -> NoReturn:
    """Park the step in Redis (defer) or stop its goal as budget_exhausted; end the message."""
    if admission.kind == "defer":
        # Parked before the goal is marked waiting: a worker that dies in between leaves a step
        # the sweeper owns, never a waiting goal whose only message a dead worker holds.
        ParkedWork(rt.redis).park(ParkedStep(goal.id, task_id, run), park_wait(0))
        rt.budget.defer(goal.id, task_id, admission.reason)
        log.info("step parked by budget", extra={"event": "task_deferred", "goal_id": goal.id,
                                                  "task_id": task_id, "reason": admission.reason})
        progress.publish(rt.redis, goal.id, "task_deferred", task_id=task_id,
                         reason=admission.reason)
        raise Ignore()
    rt.budget.set_status(goal.id, GoalStatus.BUDGET_EXHAUSTED, admission.reason)
    log.warning("goal stopped by budget", extra={"event": "budget_exhausted", "goal_id": goal.id,
                                                 "task_id": task_id, "reason": admission.reason})
    progress.publish(rt.redis, goal.id, "budget_exhausted", task_id=task_id, reason=admission.reason,
                     status=GoalStatus.BUDGET_EXHAUSTED.value)
    raise Ignore()
