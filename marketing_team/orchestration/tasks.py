"""Celery tasks: thin adapters that take ids, call a plain function and return a small JSON result.

Every goal step carries (goal id, task id, run). A step whose work is not its to do ends quietly:
a copy of an earlier run, a paused or settled goal, a finished task. A busy copy (another live
holder runs the step) never reports success for work it did not do: it looks again later, when
the holder has finished (or died and been taken over), and gives up with `Ignore` after a while.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Celery, Task
from celery.exceptions import Ignore

from marketing_team.catalog.specs import Catalog
from marketing_team.director import failures, flow, phases, skill_run
from marketing_team.director.decision import Reviewed
from marketing_team.director.review_policy import NextStep
from marketing_team.director.runtime import Runtime
from marketing_team.director.skill_run import Claim
from marketing_team.domain.errors import (
    BudgetError,
    LLMTransientError,
    LockTimeoutError,
    MarketingTeamError,
    ProviderBillingError,
)
from marketing_team.orchestration import dispatch, step_end, sweeper, task_gate
from marketing_team.orchestration.context import runtime_of

log = logging.getLogger(__name__)
MAX_TRANSIENT_RETRIES = 3
MAX_INFRA_RETRIES = 8  # broker or lock trouble: about four minutes of backoff in all


class TeamTask(Task):  # type: ignore[misc]
    """Shared base of every task: the pre-run hook is where gates act (signals cannot)."""

    abstract = True
    # Transient faults retry the whole task with backoff; see the skill body.
    max_retries = MAX_TRANSIENT_RETRIES

    @property
    def rt(self) -> Runtime:
        """The runtime of this task's app."""
        return runtime_of(self.app)

    def before_start(self, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """The gates: catalog and budget (park or stop, never a failed member)."""
        task_gate.before_task(self, self.rt, args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the body; a refusal by the hard cap inside it parks the step or stops its goal."""
        request = self.request_stack.top
        # In a worker the tracer has pushed the real request already; Task.__call__ would push a
        # bare one (no retries, chain or delivery info) unless the worker installed Celery's
        # stack protection, which the in-process worker does not. So call the body directly.
        direct = request is None or request.called_directly
        body = super().__call__ if direct else self.run
        try:
            return body(*args, **kwargs)
        except BudgetError as exc:
            task_gate.after_refusal(self, self.rt, args, kwargs, exc)
            raise
        except (redis.RedisError, LockTimeoutError) as exc:
            # A broker blip or a goal that kept changing is a transient fault: retry the whole task.
            if self.request.retries >= MAX_INFRA_RETRIES:
                raise
            raise self.retry(exc=exc, countdown=2 ** min(self.request.retries + 1, 6),
                             max_retries=self.request.retries + 1) from None
        finally:
            if task_gate.gated(self.name):
                _announce(self.app, self.rt)
            if direct:  # called as a function: no task_postrun will hand its lease back
                step_end.release_pending(self.rt)


def _announce(app: Celery, rt: Runtime) -> None:
    """Publish the budget levels this task's spending crossed (once a month each)."""
    if rt.offline:
        return  # the offline provider spends nothing, so it crosses no level
    try:
        dispatch.emit(app, rt, rt.budget.announcements(after_settle=True))
    except redis.RedisError as exc:
        log.warning("budget announcement skipped", extra={"event": "announce_failed",
                                                           "error": type(exc).__name__})


def _ended(task: Task, rt: Runtime, claimed: Claim, busy: int) -> dict[str, str]:
    """The result of a step that had nothing to do; a busy copy comes back later instead."""
    if claimed.action == "busy":
        # Another live copy runs it: success now would be a lie to the chord. Look again soon
        # (2, 4, 8 s … up to the heartbeat timeout: a look is one read); past twice the hard
        # time limit the sweeper owns the step.
        waits = [busy_wait(n, rt.settings.heartbeat_timeout_s) for n in range(busy + 1)]
        if sum(waits) > rt.settings.hard_time_limit_s * 2:
            raise Ignore()
        raise task.retry(countdown=waits[-1], kwargs={**task.request.kwargs, "busy": busy + 1},
                         max_retries=task.request.retries + 1)
    return {"task_id": claimed.task.id, "status": claimed.task.status.value, "ended": claimed.action}


def busy_wait(looks: int, heartbeat_timeout_s: int) -> int:
    """Seconds before a busy copy looks again, after it looked `looks` times already."""
    wait: int = min(heartbeat_timeout_s, 2 ** min(looks + 1, 16))
    return wait


def _faults(task: Task, busy: int) -> int:
    """How many of the task's retries were for transient faults (busy looks do not count)."""
    return max(0, int(task.request.retries) - busy)


def skill_body(task: Task, goal_id: str, task_id: str, run: int = 0, busy: int = 0,
               reviews: bool = False) -> Any:
    """Draft the task's deliverable unless that is not this message's to do; its review follows.

    reviews: no review task is chained (the review is structural only), so the draft's record
    applies its verdict in the same goal write; a copy that finds a draft recorded but not
    reviewed (by a message published before drafts reviewed themselves) reviews it.
    """
    rt = runtime_of(task.app)
    claimed = skill_run.claim(rt, goal_id, task_id, run, read=task_gate.admitted(task, goal_id))
    if claimed.action == "review" and reviews:
        return _review(task, rt, skill_run.claim_review(rt, goal_id, task_id, run), run, busy)
    if claimed.action != "run":
        return _ended(task, rt, claimed, busy)
    try:
        drafted = _run(task, rt, claimed, busy, reviews)
    except _Failed as failed:
        return _failed(task.app, rt, goal_id, task_id, str(failed))
    except ProviderBillingError as exc:
        return _untrusted(task.app, rt, goal_id, task_id, exc)
    finally:
        step_end.release_at_end(rt, claimed.lease)  # a retry or a later revision may run it again
    done = drafted.task
    # The task's totals so far ride on the result: the metrics observer needs no read of the goal.
    result = {"task_id": task_id, "status": "completed", "skill": done.skill, "model": done.model,
              "tokens_in": done.tokens_in, "tokens_out": done.tokens_out,
              "cost_usd": str(done.cost_usd)}
    if drafted.reviewed is not None:  # the record applied its own structural review's verdict
        result["decision"] = _after_review(task, rt, drafted.reviewed, task_id, run)["decision"]
    return result


def _review(task: Task, rt: Runtime, claimed: Claim, run: int, busy: int) -> dict[str, str]:
    """Review the claimed draft and do what the decision asks (a revision, the phase's advance)."""
    if claimed.action != "run":
        return _ended(task, rt, claimed, busy)
    goal_id, task_id = claimed.task.goal_id, claimed.task.id
    tier = rt.budget.effective_tier("sonnet", task_gate.admitted_level(task))
    model = rt.model_for(tier)
    # After the transient retries are spent the structural review decides alone.
    used = _faults(task, busy)
    try:
        reviewed = flow.review_task(rt, goal_id, task_id, model,
                                    model_allowed=used < MAX_TRANSIENT_RETRIES,
                                    read=claimed.goal, tier=tier, draft=claimed.draft)
    except LLMTransientError as exc:
        raise task.retry(exc=exc, countdown=2 ** (used + 1),
                         max_retries=task.request.retries + 1) from None
    except ProviderBillingError as exc:
        return _untrusted(task.app, rt, goal_id, task_id, exc)
    finally:
        step_end.release_at_end(rt, claimed.lease)
    return _after_review(task, rt, reviewed, task_id, run)


def _after_review(task: Task, rt: Runtime, reviewed: Reviewed, task_id: str, run: int) -> dict[str, str]:
    """Do what a review's decision asks: publish the revision, or the phase the goal moved to."""
    step, move, goal = reviewed
    if step in (NextStep.REVISE, NextStep.RETRY):
        # The revision runs as a new step (a draft and its review). Published, not spliced with
        # Task.replace (which raises Ignore and has Celery format two tracebacks, ~5 ms a
        # revision): a phase advances by its last task out, so a chord join firing now changes
        # nothing.
        dispatch.publish_revision(task.app, goal.task(task_id), run)
        return {"task_id": task_id, "decision": step.value}
    dispatch.follow(task.app, rt, goal, move)
    return {"task_id": task_id, "decision": step.value}


class _Failed(Exception):
    """A skill run that failed for good; the message is its typed reason."""


def _run(task: Task, rt: Runtime, claimed: Claim, busy: int, reviews: bool) -> skill_run.Drafted:
    """One model run of the skill; transient faults retry the whole task, others fail it."""
    spec = rt.catalog.skill(claimed.task.skill)
    model = rt.model_for(rt.budget.effective_tier(spec.tier, task_gate.admitted_level(task)))
    try:
        return skill_run.run_skill(rt, claimed.task.goal_id, claimed.task.id, model, read=claimed.goal,
                                   inputs=claimed.inputs, review_own=reviews)
    except (BudgetError, ProviderBillingError):
        raise  # not a skill failure: the step parks, or the goal stops
    except LLMTransientError as exc:
        used = _faults(task, busy)
        if used < MAX_TRANSIENT_RETRIES:
            raise task.retry(exc=exc, countdown=2 ** (used + 1),
                             max_retries=task.request.retries + 1) from None
        raise _Failed(f"{type(exc).__name__}: {exc}") from None
    except MarketingTeamError as exc:  # permanent: fails at once with its typed reason
        raise _Failed(f"{type(exc).__name__}: {exc}") from None


def _untrusted(app: Celery, rt: Runtime, goal_id: str, task_id: str,
               exc: ProviderBillingError) -> dict[str, str]:
    """Stop the goal: its provider reported usage that cannot be true (its bound was recorded)."""
    dispatch.emit(app, rt, [failures.untrusted_provider(rt, goal_id, task_id, exc)])
    log.error("provider billing not trusted; goal stopped", extra={
        "event": "provider_untrusted", "goal_id": goal_id, "task_id": task_id, "reason": str(exc)})
    return {"task_id": task_id, "status": "goal_stopped"}


def _failed(app: Celery, rt: Runtime, goal_id: str, task_id: str, reason: str) -> dict[str, str]:
    failed = failures.fail_task(rt, goal_id, task_id, reason)
    if failed.blocked is not None:
        dispatch.emit(app, rt, [failed.blocked])
    dispatch.follow(app, rt, rt.goals.load(goal_id), failed.move)
    log.warning("skill failed", extra={"event": "skill_failed", "goal_id": goal_id,
                                       "task_id": task_id, "reason": reason})
    return {"task_id": task_id, "status": "failed"}


def register(app: Celery, catalog: Catalog) -> None:
    """Register one task per skill (`skills.<slug>`) and the director tasks on app."""
    for slug in catalog.skills:
        app.task(name=f"skills.{slug}", base=TeamTask, bind=True, shared=False)(skill_body)

    @app.task(name="director.review", base=TeamTask, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def review(self: TeamTask, goal_id: str, task_id: str, run: int = 0, busy: int = 0) -> Any:
        rt = self.rt
        claimed = skill_run.claim_review(rt, goal_id, task_id, run, read=task_gate.admitted(self, goal_id))
        return _review(self, rt, claimed, run, busy)

    @app.task(name="director.advance_goal", base=TeamTask, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def advance_goal(self: TeamTask, results: Any, goal_id: str, phase_index: int, run: int = 0) -> str:
        goal, move = phases.advance(self.rt, goal_id, phase_index, run)
        dispatch.follow(self.app, self.rt, goal, move)
        return move.value

    @app.task(name="director.sweep", base=TeamTask, bind=True, shared=False)  # type: ignore[untyped-decorator]
    def sweep(self: TeamTask) -> dict[str, int]:
        return sweeper.sweep(self.app, self.rt).as_json()

    # Not bound: Celery calls an errback with (request, exc, traceback) plus its own arguments.
    @app.task(name="director.task_crashed", base=TeamTask, shared=False)  # type: ignore[untyped-decorator]
    def task_crashed(request: Any, exc: BaseException, traceback: Any, goal_id: str,
                     run: int = 0) -> None:
        flow.fail_goal(runtime_of(app), goal_id, f"a task crashed: {type(exc).__name__}: {exc}"[:300],
                       run=run)
