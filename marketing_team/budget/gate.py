"""The budget gate: veto or defer tasks before they run, refuse to publish, meter every model call."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from marketing_team import progress
from marketing_team.budget_policy import (
    ANNOUNCED,
    Decision,
    Level,
    at_least,
    call_worst_case,
    decide,
    defer_reason,
    forced_tier,
    level_for,
    share_percent,
    stop_at,
    to_micros,
    to_usd,
)
from marketing_team.budget_report import refresh_day_report
from marketing_team.domain import Event, EventType, Goal, GoalStatus, TaskStatus, utcnow
from marketing_team.errors import BudgetDeferred, BudgetError, BudgetExhausted, SkillFailedError
from marketing_team.internal_events import emit_internal
from marketing_team.ledger import Grant, Ledger, Reservation, day_of, month_of
from marketing_team.llm.pricing import PriceTable
from marketing_team.llm.protocol import Reply, Tier
from marketing_team.runtime import Runtime, current

log = logging.getLogger(__name__)

# A deferred task checks again after 2 s, then 4, 8 … up to 5 minutes: quick to resume after the
# budget is raised, cheap while it waits (a check is two Redis reads, never a model call).
DEFER_FIRST_S = 2
DEFER_MAX_S = 300
# Deferral is not failure: a task may wait for the budget as often as it takes.
UNLIMITED_RETRIES = 10**9
ANNOUNCE_TTL_S = 40 * 86400
DEFERRALS_TTL_S = 30 * 86400
_EVENT_FOR = {Level.WARNING: EventType.BUDGET_WARNING, Level.CRITICAL: EventType.BUDGET_CRITICAL}


def ledger(rt: Runtime) -> Ledger:
    """The runtime's ledger; a reservation outlives the longest task, then lapses if never settled."""
    return Ledger(rt.redis, lease_s=rt.settings.hard_time_limit_s * 2)


@dataclass(frozen=True)
class Standing:
    """The month's spend against the budget, in micro-dollars, and the level it means."""

    month: str
    spent: int
    budget: int
    level: Level


def standing(rt: Runtime, when: datetime | None = None) -> Standing:
    """Where this month's spend stands now."""
    month = month_of(when or utcnow())
    budget = to_micros(rt.settings.budget_monthly, round_up=False)
    spent = ledger(rt).month_spent(month)
    return Standing(month, spent, budget, level_for(spent, budget))


def check(rt: Runtime, goal: Goal) -> Decision:
    """Whether the goal's work may run now: run, defer (by priority) or exhausted (month or goal cap)."""
    now = standing(rt)
    announce(rt, now)
    return decide(now.level, goal.priority, spent=now.spent, budget=now.budget,
                  goal_spent=ledger(rt).goal_spent(goal.id), goal_cap=_goal_cap(rt), month=now.month)


def announce(rt: Runtime, now: Standing) -> None:
    """Emit budget_warning / budget_critical the first time the month reaches each level."""
    for level in ANNOUNCED:
        if at_least(now.level, level) and ledger(rt).mark_once(
                f"announced:{now.month}:{level}", ANNOUNCE_TTL_S):
            emit_internal(rt, Event(type=_EVENT_FOR[level], source="budget", data={
                "month": now.month, "level": now.level.value, "spent_usd": str(to_usd(now.spent)),
                "budget_usd": str(to_usd(now.budget)),
                "share_pct": str(share_percent(now.spent, now.budget))}))


def _gated(name: str) -> bool:
    return name.startswith("skills.") or name == "director.review"


def _ids(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str]:
    goal_id = kwargs.get("goal_id", args[0] if args else None)
    task_id = kwargs.get("task_id", args[1] if len(args) > 1 else None)
    return str(goal_id), str(task_id)


def before_task(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Veto or defer a task before its body runs (called from TeamTask.before_start)."""
    if not _gated(task.name):
        return
    from marketing_team.flow import pause_reason  # flow imports guarded, which imports us

    goal_id, task_id = _ids(args, kwargs)
    rt = current()
    goal = rt.goals.load(goal_id)
    if goal.status.is_final:
        return  # the body sees the finished task and reports it done
    paused = pause_reason(goal)
    if paused is not None:
        raise SkillFailedError(f"goal {goal_id} is paused ({paused}); `mtctl goals resume {goal_id}`")
    decision = check(rt, goal)
    if decision.kind != "run":
        _refuse(task, rt, goal_id, task_id, decision)
    if goal.status is GoalStatus.WAITING_BUDGET:
        _set_status(rt, goal_id, GoalStatus.RUNNING, "", only_from=(GoalStatus.WAITING_BUDGET,))
        progress.publish(rt, goal_id, "goal_resumed", reason="budget allows it again")


def after_refusal(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any], exc: BudgetError) -> None:
    """A refusal raised inside a task body (the hard cap): defer the task or stop its goal."""
    if not _gated(task.name):
        return  # not a goal's skill or review: the error fails the task as it is
    goal_id, task_id = _ids(args, kwargs)
    decision = Decision("defer" if isinstance(exc, BudgetDeferred) else "exhausted", str(exc))
    _refuse(task, current(), goal_id, task_id, decision)


def _refuse(task: Any, rt: Runtime, goal_id: str, task_id: str, decision: Decision) -> NoReturn:
    if decision.kind == "defer":
        _wait_for_budget(rt, goal_id, task_id, decision.reason)
        waited = ledger(rt).bump(f"deferrals:{task.request.id}", DEFERRALS_TTL_S)
        countdown = min(DEFER_MAX_S, DEFER_FIRST_S * 2 ** min(waited - 1, 16))
        log.info("task deferred by budget", extra={"event": "task_deferred", "goal_id": goal_id,
                                                    "task_id": task_id, "reason": decision.reason,
                                                    "retry_in_s": countdown})
        progress.publish(rt, goal_id, "task_deferred", task_id=task_id, reason=decision.reason,
                         retry_in_s=countdown)
        raise task.retry(countdown=countdown, exc=BudgetDeferred(decision.reason),
                         max_retries=UNLIMITED_RETRIES)
    _set_status(rt, goal_id, GoalStatus.BUDGET_EXHAUSTED, decision.reason)
    log.warning("goal stopped by budget", extra={"event": "budget_exhausted", "goal_id": goal_id,
                                                 "task_id": task_id, "reason": decision.reason})
    progress.publish(rt, goal_id, "budget_exhausted", task_id=task_id, reason=decision.reason,
                     status=GoalStatus.BUDGET_EXHAUSTED.value)
    raise BudgetExhausted(decision.reason)


def transient_retries(task: Any) -> int:
    """How many of the task's Celery retries were for transient faults (deferrals do not count)."""
    return int(task.request.retries) - ledger(current()).count(f"deferrals:{task.request.id}")


def _wait_for_budget(rt: Runtime, goal_id: str, task_id: str, reason: str) -> None:
    def change(goal: Goal) -> None:
        task = goal.task(task_id)
        if task.status is TaskStatus.PENDING:
            task.move(TaskStatus.DEFERRED)
        if goal.status in (GoalStatus.PLANNED, GoalStatus.RUNNING, GoalStatus.WAITING_BUDGET):
            goal.status = GoalStatus.WAITING_BUDGET
            goal.status_reason = reason

    rt.goals.update(goal_id, change)


def _set_status(rt: Runtime, goal_id: str, status: GoalStatus, reason: str,
                only_from: tuple[GoalStatus, ...] | None = None) -> None:
    def change(goal: Goal) -> None:
        if goal.status.is_final or (only_from is not None and goal.status not in only_from):
            return
        goal.status = status
        goal.status_reason = reason

    rt.goals.update(goal_id, change)


def before_publish(rt: Runtime, goal: Goal) -> None:
    """Refuse to publish a goal the budget does not allow (the goal stays resumable)."""
    decision = check(rt, goal)
    if decision.kind == "run":
        return
    exhausted = decision.kind == "exhausted"
    if rt.goals.exists(goal.id):
        status = GoalStatus.BUDGET_EXHAUSTED if exhausted else GoalStatus.PLANNED
        _set_status(rt, goal.id, status, f"not started: {decision.reason}")
    error = BudgetExhausted if exhausted else BudgetDeferred
    raise error(f"goal {goal.id} not started: {decision.reason}")


def _goal_cap(rt: Runtime) -> int:
    return to_micros(rt.settings.goal_budget_cap, round_up=False)


def worst_case_micros(rt: Runtime, model: str, max_tokens: int, input_tokens: int | None = None,
                      attempts: int = 1) -> int:
    """What a call must reserve; zero for providers that cost nothing."""
    # "offline" is the model id of the offline provider (no model, no price, nothing to hold).
    if rt.offline or model == "offline":
        return 0
    tokens = rt.settings.context_tokens if input_tokens is None else input_tokens
    return to_micros(call_worst_case(PriceTable.from_settings(rt.settings), model, tokens,
                                     max_tokens, attempts))


def _reserve(rt: Runtime, book: Ledger, goal_id: str, micros: int) -> Reservation:
    budget = to_micros(rt.settings.budget_monthly, round_up=False)
    goal = rt.goals.load(goal_id) if goal_id and rt.goals.exists(goal_id) else None
    grant = book.reserve(micros, budget=budget, goal_id=goal_id,
                         goal_cap=_goal_cap(rt) if goal_id else None,
                         stop_at=stop_at(budget, goal.priority) if goal else None)
    if grant.reservation is not None:
        return grant.reservation
    raise _refusal(rt, grant, goal, micros, budget)


def _refusal(rt: Runtime, grant: Grant, goal: Goal | None, micros: int, budget: int) -> BudgetError:
    month = month_of(utcnow())
    need = f"a call needing up to ${to_usd(micros)}"
    if grant.outcome == "deferred" and goal is not None:
        level = level_for(grant.spent, budget)
        return BudgetDeferred(defer_reason(level, goal.priority, grant.spent, budget, month))
    if grant.outcome == "busy":
        return BudgetDeferred(f"budget held by calls in flight: ${to_usd(grant.spent)} spent and "
                              f"${to_usd(grant.held)} reserved of ${to_usd(budget)}; {need} waits")
    if grant.outcome == "goal_exhausted":
        return BudgetExhausted(f"goal budget cap ${to_usd(_goal_cap(rt))} "
                               f"(MT_GOAL_BUDGET_SHARE of BUDGET_MONTHLY) leaves no room for {need}")
    return BudgetExhausted(f"monthly budget exhausted: ${to_usd(grant.spent)} of ${to_usd(budget)} "
                           f"spent in {month} leaves no room for {need}; raise BUDGET_MONTHLY or "
                           f"wait for next month, then `mtctl goals resume`")


def _no_settle(reply: Reply) -> None:
    """Settle for a call that cannot cost anything."""


@contextlib.contextmanager
def metered_call(rt: Runtime, goal_id: str, skill: str, model: str, max_tokens: int, *,
                 input_tokens: int | None = None,
                 attempts: int = 1) -> Iterator[Callable[[Reply], None]]:
    """Reserve a call's worst case before it, settle to its actual cost after (yields settle)."""
    if rt.offline:  # no model, no money: nothing to hold or record (and maybe no broker: --dry-run)
        yield _no_settle
        return
    micros = worst_case_micros(rt, model, max_tokens, input_tokens, attempts)
    cap = to_micros(rt.settings.call_cost_cap, round_up=False)
    if micros > cap:
        raise BudgetExhausted(f"a {model} call may cost up to ${to_usd(micros)}, over the per-call "
                              f"cap ${to_usd(cap)} (MT_CALL_COST_CAP)")
    book = ledger(rt)
    held = _reserve(rt, book, goal_id, micros) if micros > 0 else None
    settled = False

    def settle(reply: Reply) -> None:
        nonlocal settled
        if settled:
            return
        when = utcnow()
        actual = to_micros(reply.cost_usd)
        spent = book.settle(held, actual, goal_id=goal_id, skill=skill, model=model, when=when)
        settled = True
        if held is not None and actual > held.micros:
            log.warning("call cost more than its reservation", extra={
                "event": "reservation_exceeded", "goal_id": goal_id, "skill": skill,
                "model": model, "reserved_usd": str(to_usd(held.micros)),
                "cost_usd": str(to_usd(actual))})
        budget = to_micros(rt.settings.budget_monthly, round_up=False)
        announce(rt, Standing(month_of(when), spent, budget, level_for(spent, budget)))
        if actual > 0:
            refresh_day_report(rt, day_of(when))

    try:
        yield settle
    finally:
        if not settled and held is not None:
            book.release(held)


def effective_tier(rt: Runtime, tier: Tier) -> Tier:
    """The tier after budget overrides (critical forces haiku)."""
    return forced_tier(standing(rt).level, tier)
