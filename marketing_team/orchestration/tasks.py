"""Celery tasks: thin adapters that take ids, call a plain function and return a small JSON result."""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Celery, Task

from marketing_team import budget, canvas, dispatch, flow, runner
from marketing_team.catalog.specs import Catalog
from marketing_team.errors import (
    BudgetError,
    LLMTransientError,
    LockTimeoutError,
    MarketingTeamError,
)
from marketing_team.review import Decision
from marketing_team.runtime import current

log = logging.getLogger(__name__)
MAX_TRANSIENT_RETRIES = 3
MAX_INFRA_RETRIES = 8  # broker or lock trouble: about four minutes of backoff in all


class TeamTask(Task):  # type: ignore[misc]
    """Shared base of every task: the pre-run hook is where gates veto (signals cannot)."""

    abstract = True
    # Transient faults retry the whole task with backoff; see the skill body.
    max_retries = MAX_TRANSIENT_RETRIES

    def before_start(self, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Budget gate: raises to veto or retries to defer; never a signal (signals cannot veto)."""
        budget.before_task(self, args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the body; a refusal by the hard cap inside it defers the task or stops its goal."""
        request = self.request_stack.top
        # In a worker the tracer has pushed the real request already; Task.__call__ would push a
        # bare one (no retries, chain or delivery info) unless the worker installed Celery's
        # stack protection, which the in-process worker does not. So call the body directly.
        body = self.run if request is not None and not request.called_directly else super().__call__
        try:
            return body(*args, **kwargs)
        except BudgetError as exc:
            budget.after_refusal(self, args, kwargs, exc)
            raise
        except (redis.RedisError, LockTimeoutError) as exc:
            # A broker blip or a busy goal lock is a transient fault: retry the whole task.
            if self.request.retries >= MAX_INFRA_RETRIES:
                raise
            raise self.retry(exc=exc, countdown=2 ** min(self.request.retries + 1, 6),
                             max_retries=self.request.retries + 1) from None


def skill_body(task: Task, goal_id: str, task_id: str) -> Any:
    """Run the skill unless it already ran, then splice the Director's review in after it."""
    rt = current()
    start = runner.claim(rt, goal_id, task_id)
    if start.action in ("done", "busy"):  # busy: another copy of this message is running it
        return {"task_id": task_id, "status": start.task.status.value, "copy": start.action}
    if start.action == "run":
        try:
            _run(task, rt, goal_id, task_id, start.task.skill)
        except _Failed as failed:
            return _failed(rt, goal_id, task_id, str(failed))
        finally:
            runner.release(rt, start.task)  # a retry or a later revision may run it again
    prio = start.task.priority.broker_priority
    return task.replace(canvas.review_signature(task.app, goal_id, task_id, prio))


class _Failed(Exception):
    """A skill run that failed for good; the message is its typed reason."""


def _run(task: Task, rt: Any, goal_id: str, task_id: str, skill: str) -> None:
    """One model run of the skill; transient faults retry the whole task, others fail it."""
    spec = rt.catalog.skill(skill)
    try:
        runner.run_skill(rt, goal_id, task_id, rt.model_for(budget.effective_tier(rt, spec.tier)))
    except BudgetError:
        raise  # not a skill failure: TeamTask defers the task or stops the goal
    except LLMTransientError as exc:
        used = max(0, budget.transient_retries(task))  # budget deferrals do not count
        if used < MAX_TRANSIENT_RETRIES:
            raise task.retry(exc=exc, countdown=2 ** (used + 1),
                             max_retries=task.request.retries + 1) from None
        raise _Failed(f"{type(exc).__name__}: {exc}") from None
    except MarketingTeamError as exc:  # permanent: fails at once with its typed reason
        raise _Failed(f"{type(exc).__name__}: {exc}") from None


def _failed(rt: Any, goal_id: str, task_id: str, reason: str) -> dict[str, str]:
    runner.fail_task(rt, goal_id, task_id, reason)
    flow.task_failed(rt, goal_id, task_id, reason)  # learning; third failure in a row pauses
    log.warning("skill failed", extra={"event": "skill_failed", "goal_id": goal_id,
                                       "task_id": task_id, "reason": reason})
    return {"task_id": task_id, "status": "failed"}


def register(app: Celery, catalog: Catalog) -> None:
    """Register one task per skill (`skills.<slug>`) and the director tasks on app."""
    for slug in catalog.skills:
        app.task(name=f"skills.{slug}", base=TeamTask, bind=True, shared=False)(skill_body)

    @app.task(name="director.review", base=TeamTask, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def review(self: Task, goal_id: str, task_id: str) -> Any:
        rt = current()
        model = rt.model_for(budget.effective_tier(rt, "sonnet"))
        # After the transient retries are spent the structural review decides alone.
        used = max(0, budget.transient_retries(self))  # budget deferrals do not count
        try:
            decision = flow.review_task(rt, goal_id, task_id, model,
                                        model_allowed=used < MAX_TRANSIENT_RETRIES)
        except LLMTransientError as exc:
            raise self.retry(exc=exc, countdown=2 ** (used + 1),
                             max_retries=self.request.retries + 1) from None
        if decision in (Decision.REVISE, Decision.RETRY):
            goal = rt.goals.load(goal_id)
            return self.replace(canvas.skill_signature(self.app, goal.task(task_id)))
        return {"task_id": task_id, "decision": decision.value}

    @app.task(name="director.advance_goal", base=TeamTask, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def advance_goal(self: Task, results: Any, goal_id: str, phase_index: int) -> str:
        rt = current()
        nxt = flow.advance(rt, goal_id, phase_index)
        if nxt.action == "dispatch":
            dispatch.dispatch_phase(self.app, rt, rt.goals.load(goal_id), nxt.index)
        elif nxt.action == "finish":
            flow.finish(rt, goal_id)
        return nxt.action

    @app.task(name="director.daily_report", base=TeamTask, shared=False)  # type: ignore[untyped-decorator]
    def daily_report() -> str:
        from marketing_team.metrics import write_daily_report

        return str(write_daily_report(current()))

    @app.task(name="director.watchdog", base=TeamTask, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def watchdog(self: Task, goal_id: str, seen: str) -> str:
        return dispatch.watch(self.app, current(), goal_id, seen)

    @app.task(name="director.task_crashed", base=TeamTask, shared=False)  # type: ignore[untyped-decorator]
    def task_crashed(request: Any, exc: BaseException, traceback: Any, goal_id: str) -> None:
        flow.fail_goal(current(), goal_id, f"a task crashed: {type(exc).__name__}: {exc}"[:300])
