"""The budget gate: where the month stands, who may run, reservations, and what a refusal does to a goal."""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from marketing_team.budget.ledger import Grant, Ledger, Reservation, month_of
from marketing_team.budget.policy import (
    ANNOUNCED,
    Admission,
    BudgetLevel,
    admit,
    allows,
    at_least,
    defer_reason,
    forced_tier,
    level_for,
    share_percent,
    stop_at,
    to_micros,
    to_usd,
)
from marketing_team.config.settings import Settings
from marketing_team.domain.errors import BudgetDeferred, BudgetError, BudgetExhausted
from marketing_team.domain.event import Event, EventType
from marketing_team.domain.goal import Goal, GoalStatus, Priority, TaskStatus
from marketing_team.domain.values import Tier, utcnow
from marketing_team.store.batch import Rider
from marketing_team.store.connection import RedisConnection
from marketing_team.store.goals import GoalStore

log = logging.getLogger(__name__)

ANNOUNCE_TTL_S = 40 * 86400
_EVENT_FOR = {BudgetLevel.WARNING: EventType.BUDGET_WARNING,
              BudgetLevel.CRITICAL: EventType.BUDGET_CRITICAL}


@dataclass(frozen=True)
class Standing:
    """The month's spend against the budget, in micro-dollars, and the level it means."""

    month: str
    spent: int
    budget: int
    level: BudgetLevel


SDK_BACKOFF_ALLOWANCE_S = 60  # per SDK retry: the longest retry-after we expect to honour


def reservation_lease_s(settings: Settings) -> int:
    """How long a hold outlives a holder that never settles: at least twice the hard limit, and
    never shorter than the longest request the SDK may make (every attempt timing out, with a
    backoff between), so a slow reply always settles against its own hold."""
    attempts = 1 + max(0, settings.llm_max_retries)
    longest = settings.llm_timeout_s * attempts + SDK_BACKOFF_ALLOWANCE_S * (attempts - 1)
    return int(max(settings.hard_time_limit_s * 2, longest + 60))


class BudgetGate:
    """Every budget question the team asks, answered from the Redis ledger (nothing in memory)."""

    def __init__(self, settings: Settings, connection: RedisConnection, goals: GoalStore,
                 offline: bool) -> None:
        self.settings = settings
        self.connection = connection
        self.goals = goals
        self.offline = offline  # the offline provider: no model, no money
        self._settled = threading.local()  # the month's spend this thread's last settle returned

    @functools.cached_property
    def ledger(self) -> Ledger:
        """The ledger; a reservation outlives the longest task, then lapses if never settled."""
        return Ledger(self.connection.client, lease_s=reservation_lease_s(self.settings))

    @property
    def budget_micros(self) -> int:
        """The monthly budget in micro-dollars (rounded down: never in our favour)."""
        return to_micros(self.settings.budget_monthly, round_up=False)

    @property
    def goal_cap_micros(self) -> int:
        """The most one goal may spend, in micro-dollars."""
        return to_micros(self.settings.goal_budget_cap, round_up=False)

    def standing(self, when: datetime | None = None) -> Standing:
        """Where this month's spend stands now."""
        month = month_of(when or utcnow())
        spent = self.ledger.month_spent(month)
        return Standing(month, spent, self.budget_micros, level_for(spent, self.budget_micros))

    def admit(self, goal: Goal) -> Admission:
        """Whether the goal's work may run now: run, defer (by priority) or exhausted (month or goal cap)."""
        month = month_of(utcnow())
        spent, goal_spent = self.ledger.month_and_goal_spent(month, goal.id)
        return self._admit(goal, month, spent, goal_spent)

    def load_and_admit(self, goal_id: str) -> tuple[Goal, Admission]:
        """The goal and admit(goal), read in one round trip (the gate asks before every step)."""
        month = month_of(utcnow())
        goal, (spent, goal_spent) = self.goals.load_with(
            goal_id, lambda pipe: self.ledger.queue_spent(pipe, month, goal_id))
        return goal, self._admit(goal, month, int(spent or 0), int(goal_spent or 0))

    def _admit(self, goal: Goal, month: str, spent: int, goal_spent: int) -> Admission:
        level = level_for(spent, self.budget_micros)
        return admit(level, goal.priority, spent=spent, budget=self.budget_micros,
                     goal_spent=goal_spent, goal_cap=self.goal_cap_micros, month=month)

    def allows(self, priority: Priority) -> tuple[bool, BudgetLevel]:
        """(allowed, level): whether work of this priority may start at the current level."""
        level = self.standing().level
        return allows(level, priority), level

    def effective_tier(self, tier: Tier, level: BudgetLevel | None = None) -> Tier:
        """The tier after budget overrides (critical forces haiku), at the level given or now's."""
        return forced_tier(self.standing().level if level is None else level, tier)

    def note_settled(self, month_spent: int) -> None:
        """Remember the month's spend a settle in this thread returned (for its announcements)."""
        self._settled.spent = month_spent

    def announcements(self, after_settle: bool = False) -> list[Event]:
        """budget_warning / budget_critical the first time the month reaches each level (once each).

        Returned, not emitted: the caller (the orchestration layer) publishes them. after_settle:
        only if a call settled in this thread since the last look, at the month's spend that settle
        returned (a level is crossed by spending, so the step that spent announces it; a step that
        spent nothing asks Redis nothing).
        """
        if after_settle:
            spent = getattr(self._settled, "spent", None)
            self._settled.spent = None
            if spent is None:
                return []
            now = Standing(month_of(utcnow()), spent, self.budget_micros,
                           level_for(spent, self.budget_micros))
        else:
            now = self.standing()
        found: list[Event] = []
        for level in ANNOUNCED:
            if at_least(now.level, level) and self.ledger.mark_once(
                    f"announced:{now.month}:{level}", ANNOUNCE_TTL_S):
                found.append(Event(type=_EVENT_FOR[level], source="budget", data={
                    "month": now.month, "level": now.level.value,
                    "spent_usd": str(to_usd(now.spent)), "budget_usd": str(to_usd(now.budget)),
                    "share_pct": str(share_percent(now.spent, now.budget))}))
        return found

    # --- what a refusal does to a goal -----------------------------------------------------
    def defer(self, goal_id: str, task_id: str, reason: str) -> None:
        """Record that a task waits for the budget: task deferred, goal waiting_budget."""

        def change(goal: Goal) -> None:
            task = goal.task(task_id)
            if task.status is TaskStatus.PENDING:
                task.move(TaskStatus.DEFERRED)
            if goal.status in (GoalStatus.PLANNED, GoalStatus.RUNNING, GoalStatus.WAITING_BUDGET):
                goal.status = GoalStatus.WAITING_BUDGET
                goal.status_reason = reason

        self.goals.update(goal_id, change)

    def set_status(self, goal_id: str, status: GoalStatus, reason: str,
                   only_from: tuple[GoalStatus, ...] | None = None) -> None:
        """Move a goal that is not finished to status (only from the given ones, when named)."""

        def change(goal: Goal) -> None:
            if goal.status.is_final or (only_from is not None and goal.status not in only_from):
                return
            goal.status = status
            goal.status_reason = reason

        self.goals.update(goal_id, change)

    def before_publish(self, goal_id: str) -> Goal:
        """The goal, read with what it may spend in one round trip; refuses to publish a goal the
        budget does not allow (the goal stays resumable)."""
        goal, admission = self.load_and_admit(goal_id)
        if admission.kind == "run":
            return goal
        exhausted = admission.kind == "exhausted"
        status = GoalStatus.BUDGET_EXHAUSTED if exhausted else GoalStatus.PLANNED
        self.set_status(goal.id, status, f"not started: {admission.reason}")
        error = BudgetExhausted if exhausted else BudgetDeferred
        raise error(f"goal {goal.id} not started: {admission.reason}")

    # --- reservations ----------------------------------------------------------------------
    def reserve(self, goal_id: str, micros: int, priority: Priority | None = None) -> Reservation:
        """Hold micros for a call against the month and the goal's cap, or raise the refusal.

        priority: the goal's, when the caller knows it (else it is read from the goal).
        """
        if priority is None and goal_id:
            goal = self.goals.find(goal_id)
            priority = goal.priority if goal is not None else None
        grant = self.ask(goal_id, micros, priority)
        if grant.reservation is not None:
            return grant.reservation
        raise self.refusal(grant, priority, micros)

    def ask(self, goal_id: str, micros: int, priority: Priority | None,
            rider: Rider | None = None) -> Grant:
        """The ledger's answer to holding micros for the goal (nothing raised: see refusal).

        rider: another store's commands to send in the same round trip, before the reservation.
        """
        return self.ledger.reserve(
            micros, budget=self.budget_micros, goal_id=goal_id,
            goal_cap=self.goal_cap_micros if goal_id else None,
            stop_at=stop_at(self.budget_micros, priority) if priority is not None else None,
            rider=rider)

    def refusal(self, grant: Grant, priority: Priority | None, micros: int) -> BudgetError:
        """The error a reservation the ledger did not grant raises: deferred or exhausted, and why."""
        month, budget = month_of(utcnow()), self.budget_micros
        need = f"a call needing up to ${to_usd(micros)}"
        if grant.outcome == "deferred" and priority is not None:
            level = level_for(grant.spent, budget)
            return BudgetDeferred(defer_reason(level, priority, grant.spent, budget, month))
        if grant.outcome == "busy":
            return BudgetDeferred(f"budget held by calls in flight: ${to_usd(grant.spent)} spent and "
                                  f"${to_usd(grant.held)} reserved of ${to_usd(budget)}; {need} waits")
        if grant.outcome == "goal_exhausted":
            return BudgetExhausted(f"goal budget cap ${to_usd(self.goal_cap_micros)} "
                                   f"(MT_GOAL_BUDGET_SHARE of BUDGET_MONTHLY) leaves no room for {need}")
        return BudgetExhausted(f"monthly budget exhausted: ${to_usd(grant.spent)} of ${to_usd(budget)} "
                               f"spent in {month} leaves no room for {need}; raise BUDGET_MONTHLY or "
                               f"wait for next month, then `mtctl goals resume`")
