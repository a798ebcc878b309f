"""Celery tasks: thin adapters that take ids, call a plain function and return a small JSON result."""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Celery, Task

from marketing_team.catalog.specs import Catalog
from marketing_team.director import flow, human_review, skill_run
from marketing_team.director.daily_report import write_daily_report
from marketing_team.director.review_policy import NextStep
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import (
    BudgetError,
    LLMTransientError,
    LockTimeoutError,
    MarketingTeamError,
)
from marketing_team.orchestration import canvas, dispatch, task_gate
from marketing_team.orchestration.context import runtime_of

log = logging.getLogger(__name__)
MAX_TRANSIENT_RETRIES = 3
MAX_INFRA_RETRIES = 8  # broker or lock trouble: about four minutes of backoff in all


class TeamTask(Task):  # type: ignore[misc]
    """Shared base of every task: the pre-run hook is where gates veto (signals cannot)."""

    abstract = True
    # Transient faults retry the whole task with backoff; see the skill body.
    max_retries = MAX_TRANSIENT_RETRIES

    @property
    def rt(self) -> Runtime:
        """The runtime of this task's app."""
        return runtime_of(self.app)

    def before_start(self, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Budget gate: raises to veto or retries to defer; never a signal (signals cannot veto)."""
        task_gate.before_task(self, self.rt, args, kwargs)

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
            task_gate.after_refusal(self, self.rt, args, kwargs, exc)
            raise
        except (redis.RedisError, LockTimeoutError) as exc:
            # A broker blip or a busy goal lock is a transient fault: retry the whole task.
            if self.request.retries >= MAX_INFRA_RETRIES:
                raise
            raise self.retry(exc=exc, countdown=2 ** min(self.request.retries + 1, 6),
                             max_retries=self.request.retries + 1) from None
        finally:
            if task_gate.gated(self.name):
                _announce(self.app, self.rt)


def _announce(app: Celery, rt: Runtime) -> None:
    """Publish the budget levels this task's spending crossed (once a month each)."""
    if rt.offline:
        return  # the offline provider spends nothing, so it crosses no level
    try:
        dispatch.emit(app, rt, rt.budget.announcements())
    except redis.RedisError as exc:
        log.warning("budget announcement skipped", extra={"event": "announce_failed",
                                                           "error": type(exc).__name__})


def skill_body(task: Task, goal_id: str, task_id: str) -> Any:
    """Run the skill unless it already ran, then splice the Director's review in after it."""
    rt = runtime_of(task.app)
    start = skill_run.claim(rt, goal_id, task_id)
    if start.action in ("done", "busy"):  # busy: another copy of this message is running it
        return {"task_id": task_id, "status": start.task.status.value, "copy": start.action}
    if start.action == "run":
        try:
            _run(task, rt, goal_id, task_id, start.task.skill)
        except _Failed as failed:
            return _failed(task.app, rt, goal_id, task_id, str(failed))
        finally:
            skill_run.release(rt, start.task)  # a retry or a later revision may run it again
    prio = start.task.priority.broker_priority
    return task.replace(canvas.review_signature(task.app, goal_id, task_id, prio))


class _Failed(Exception):
    """A skill run that failed for good; the message is its typed reason."""


def _run(task: Task, rt: Runtime, goal_id: str, task_id: str, skill: str) -> None:
    """One model run of the skill; transient faults retry the whole task, others fail it."""
    spec = rt.catalog.skill(skill)
    try:
        skill_run.run_skill(rt, goal_id, task_id, rt.model_for(rt.budget.effective_tier(spec.tier)))
    except BudgetError:
        raise  # not a skill failure: TeamTask defers the task or stops the goal
    except LLMTransientError as exc:
        used = max(0, task_gate.transient_retries(task, rt))  # budget deferrals do not count
        if used < MAX_TRANSIENT_RETRIES:
            raise task.retry(exc=exc, countdown=2 ** (used + 1),
                             max_retries=task.request.retries + 1) from None
        raise _Failed(f"{type(exc).__name__}: {exc}") from None
    except MarketingTeamError as exc:  # permanent: fails at once with its typed reason
        raise _Failed(f"{type(exc).__name__}: {exc}") from None


def _failed(app: Celery, rt: Runtime, goal_id: str, task_id: str, reason: str) -> dict[str, str]:
    skill_run.fail_task(rt, goal_id, task_id, reason)
    blocked = human_review.task_failed(rt, goal_id, task_id, reason)  # third in a row pauses
    if blocked is not None:
        dispatch.emit(app, rt, [blocked])
    log.warning("skill failed", extra={"event": "skill_failed", "goal_id": goal_id,
                                       "task_id": task_id, "reason": reason})
    return {"task_id": task_id, "status": "failed"}


def register(app: Celery, catalog: Catalog) -> None:
    """Register one task per skill (`skills.<slug>`) and the director tasks on app."""
    for slug in catalog.skills:
        app.task(name=f"skills.{slug}", base=TeamTask, bind=True, shared=False)(skill_body)

    @app.task(name="director.review", base=TeamTask, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def review(self: TeamTask, goal_id: str, task_id: str) -> Any:
        rt = self.rt
        model = rt.model_for(rt.budget.effective_tier("sonnet"))
        # After the transient retries are spent the structural review decides alone.
        used = max(0, task_gate.transient_retries(self, rt))  # budget deferrals do not count
        try:
            step = flow.review_task(rt, goal_id, task_id, model,
                                    model_allowed=used < MAX_TRANSIENT_RETRIES)
        except LLMTransientError as exc:
            raise self.retry(exc=exc, countdown=2 ** (used + 1),
                             max_retries=self.request.retries + 1) from None
        if step in (NextStep.REVISE, NextStep.RETRY):
            goal = rt.goals.load(goal_id)
            return self.replace(canvas.skill_signature(self.app, goal.task(task_id)))
        return {"task_id": task_id, "decision": step.value}

    @app.task(name="director.advance_goal", base=TeamTask, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def advance_goal(self: TeamTask, results: Any, goal_id: str, phase_index: int) -> str:
        rt = self.rt
        nxt = flow.advance(rt, goal_id, phase_index)
        if nxt.action == "dispatch":
            dispatch.dispatch_phase(self.app, rt, rt.goals.load(goal_id), nxt.index)
        elif nxt.action == "finish":
            flow.finish(rt, goal_id)
        return nxt.action

    @app.task(name="director.daily_report", base=TeamTask, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def daily_report(self: TeamTask) -> str:
        return str(write_daily_report(self.rt))

    @app.task(name="director.watchdog", base=TeamTask, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def watchdog(self: TeamTask, goal_id: str, seen: str) -> str:
        return dispatch.watch(self.app, self.rt, goal_id, seen)

    # Not bound: Celery calls an errback with (request, exc, traceback) plus its own arguments.
    @app.task(name="director.task_crashed", base=TeamTask, shared=False)  # type: ignore[untyped-decorator]
    def task_crashed(request: Any, exc: BaseException, traceback: Any, goal_id: str) -> None:
        flow.fail_goal(runtime_of(app), goal_id, f"a task crashed: {type(exc).__name__}: {exc}"[:300])
