"""The budget gate at the Celery edge: veto or defer a task before its body runs, stop a goal on refusal.

Called from `TeamTask.before_start` (a signal receiver cannot veto: Celery logs and swallows what
it raises) and when the hard cap refuses a call inside a body.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from celery import Task

from marketing_team.budget.policy import Admission
from marketing_team.director.human_review import pause_reason
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import (
    BudgetDeferred,
    BudgetError,
    BudgetExhausted,
    CatalogMismatchError,
    SkillFailedError,
)
from marketing_team.domain.goal import Goal, GoalStatus
from marketing_team.observability import progress

log = logging.getLogger(__name__)

# A deferred task checks again after 2 s, then 4, 8 … up to 5 minutes: quick to resume after the
# budget is raised, cheap while it waits (a check is two Redis reads, never a model call).
DEFER_FIRST_S = 2
DEFER_MAX_S = 300
# Deferral is not failure: a task may wait for the budget as often as it takes.
UNLIMITED_RETRIES = 10**9
DEFERRALS_TTL_S = 30 * 86400
# A task refused for its catalog goes back to the queue this often (another worker may match).
CATALOG_RETRIES = 5
CATALOG_RETRY_S = 2


def gated(name: str) -> bool:
    """True for the tasks that spend: skills and reviews."""
    return name.startswith("skills.") or name == "director.review"


def ids(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str]:
    """(goal id, task id) of a gated task's arguments."""
    goal_id = kwargs.get("goal_id", args[0] if args else None)
    task_id = kwargs.get("task_id", args[1] if len(args) > 1 else None)
    return str(goal_id), str(task_id)


def before_task(task: Task, rt: Runtime, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Veto or defer a gated task before its body runs."""
    if not gated(task.name):
        return
    goal_id, task_id = ids(args, kwargs)
    goal = rt.goals.load(goal_id)
    if goal.status.is_final:
        return  # the body sees the finished task and reports it done
    check_catalog(task, rt, goal)
    paused = pause_reason(goal)
    if paused is not None:
        raise SkillFailedError(f"goal {goal_id} is paused ({paused}); `mtctl goals resume {goal_id}`")
    admission = rt.budget.admit(goal)
    if admission.kind != "run":
        refuse(task, rt, goal_id, task_id, admission)
    if goal.status is GoalStatus.WAITING_BUDGET:
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
    """A refusal raised inside a task body (the hard cap): defer the task or stop its goal."""
    if not gated(task.name):
        return  # not a goal's skill or review: the error fails the task as it is
    goal_id, task_id = ids(args, kwargs)
    admission = Admission("defer" if isinstance(exc, BudgetDeferred) else "exhausted", str(exc))
    refuse(task, rt, goal_id, task_id, admission)


def refuse(task: Task, rt: Runtime, goal_id: str, task_id: str, admission: Admission) -> NoReturn:
    """Defer the task (a retry with backoff) or stop its goal as budget_exhausted."""
    if admission.kind == "defer":
        rt.budget.defer(goal_id, task_id, admission.reason)
        waited = rt.budget.ledger.bump(f"deferrals:{task.request.id}", DEFERRALS_TTL_S)
        countdown = min(DEFER_MAX_S, DEFER_FIRST_S * 2 ** min(waited - 1, 16))
        log.info("task deferred by budget", extra={"event": "task_deferred", "goal_id": goal_id,
                                                    "task_id": task_id, "reason": admission.reason,
                                                    "retry_in_s": countdown})
        progress.publish(rt.redis, goal_id, "task_deferred", task_id=task_id,
                         reason=admission.reason, retry_in_s=countdown)
        raise task.retry(countdown=countdown, exc=BudgetDeferred(admission.reason),
                         max_retries=UNLIMITED_RETRIES)
    rt.budget.set_status(goal_id, GoalStatus.BUDGET_EXHAUSTED, admission.reason)
    log.warning("goal stopped by budget", extra={"event": "budget_exhausted", "goal_id": goal_id,
                                                 "task_id": task_id, "reason": admission.reason})
    progress.publish(rt.redis, goal_id, "budget_exhausted", task_id=task_id, reason=admission.reason,
                     status=GoalStatus.BUDGET_EXHAUSTED.value)
    raise BudgetExhausted(admission.reason)


def transient_retries(task: Task, rt: Runtime) -> int:
    """How many of the task's Celery retries were for transient faults (deferrals do not count)."""
    return int(task.request.retries) - rt.budget.ledger.count(f"deferrals:{task.request.id}")
