"""Budget policy as pure functions: money in micro-dollars, levels, who may run, a call's worst case."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Literal

from marketing_team.domain.goal import Priority
from marketing_team.domain.values import Tier

MICROS_PER_USD = 1_000_000

class BudgetLevel(StrEnum):
    """How much of the month's budget is spent, and so who may still run."""

    NORMAL = "normal"
    WARNING = "warning"
    THROTTLE = "throttle"
    CRITICAL = "critical"
    EXHAUSTED = "exhausted"


# Highest first: the first threshold the share reaches names the level (percent of the budget).
THRESHOLDS: tuple[tuple[BudgetLevel, int], ...] = (
    (BudgetLevel.EXHAUSTED, 100), (BudgetLevel.CRITICAL, 95), (BudgetLevel.THROTTLE, 90), (BudgetLevel.WARNING, 80))
# The lowest priority rank that still runs at each level (P0 = 0 … P3 = 3; -1: nothing runs).
_LOWEST_RANK = {BudgetLevel.NORMAL: 3, BudgetLevel.WARNING: 2, BudgetLevel.THROTTLE: 1, BudgetLevel.CRITICAL: 0,
                BudgetLevel.EXHAUSTED: -1}
# Levels that announce themselves once a month when first reached.
ANNOUNCED: tuple[BudgetLevel, ...] = (BudgetLevel.WARNING, BudgetLevel.CRITICAL)


def to_micros(usd: Decimal, *, round_up: bool = True) -> int:
    """USD as integer micro-dollars; costs round up, budgets and caps round down (never in our favour)."""
    return int((usd * MICROS_PER_USD).to_integral_value(ROUND_CEILING if round_up else ROUND_FLOOR))


def to_usd(micros: int) -> Decimal:
    """Integer micro-dollars as exact USD."""
    return Decimal(micros).scaleb(-6)


def level_for(spent: int, budget: int) -> BudgetLevel:
    """The level for spent of budget micro-dollars; a zero budget allows nothing."""
    if budget <= 0:
        return BudgetLevel.EXHAUSTED
    for level, percent in THRESHOLDS:
        if spent * 100 >= budget * percent:
            return level
    return BudgetLevel.NORMAL


def at_least(level: BudgetLevel, floor: BudgetLevel) -> bool:
    """True when level is floor or a more severe one."""
    order = list(BudgetLevel)
    return order.index(level) >= order.index(floor)


def allows(level: BudgetLevel, priority: Priority) -> bool:
    """True when work of this priority may run at this level."""
    return priority.rank <= _LOWEST_RANK[level]


def allowed_text(level: BudgetLevel) -> str:
    """Which priorities run at a level, for messages ("P0-P1", "none")."""
    lowest = _LOWEST_RANK[level]
    if lowest < 0:
        return "none"
    return "P0" if lowest == 0 else f"P0-P{lowest}"


def stop_at(budget: int, priority: Priority) -> int | None:
    """The month spend (micro-dollars) from which this priority is deferred; None for P0."""
    for level, percent in reversed(THRESHOLDS):
        if not allows(level, priority):
            return None if level is BudgetLevel.EXHAUSTED else -(-budget * percent // 100)
    return None  # pragma: no cover - EXHAUSTED allows nothing, so the loop always returns


def share_percent(spent: int, budget: int) -> Decimal:
    """Spent as a percentage of budget, one decimal (100 when the budget is zero)."""
    if budget <= 0:
        return Decimal(100)
    return (Decimal(spent) * 100 / Decimal(budget)).quantize(Decimal("0.1"))


def forced_tier(level: BudgetLevel, tier: Tier) -> Tier:
    """The tier a call may use at this level: critical and beyond force haiku."""
    return "haiku" if level in (BudgetLevel.CRITICAL, BudgetLevel.EXHAUSTED) else tier


Kind = Literal["run", "defer", "exhausted"]


@dataclass(frozen=True)
class Admission:
    """What the gate does with a piece of work: run it, defer it, or stop its goal."""

    kind: Kind
    reason: str = ""
    level: BudgetLevel | None = None  # the level it was decided at (later soft choices reuse it)


def admit(level: BudgetLevel, priority: Priority, *, spent: int, budget: int, goal_spent: int,
           goal_cap: int, month: str) -> Admission:
    """The gate's decision for a goal's work at this level and goal spend."""
    if level is BudgetLevel.EXHAUSTED:
        return Admission("exhausted", f"monthly budget exhausted: ${to_usd(spent)} of "
                        f"${to_usd(budget)} spent in {month}; raise BUDGET_MONTHLY or wait for "
                        f"next month, then `mtctl goals resume`")
    if goal_spent >= goal_cap:
        return Admission("exhausted", f"goal budget cap reached: ${to_usd(goal_spent)} of "
                        f"${to_usd(goal_cap)} (MT_GOAL_BUDGET_SHARE of BUDGET_MONTHLY); raise it, "
                        f"then `mtctl goals resume`")
    if not allows(level, priority):
        return Admission("defer", defer_reason(level, priority, spent, budget, month), level)
    return Admission("run", level=level)


def defer_reason(level: BudgetLevel, priority: Priority, spent: int, budget: int, month: str) -> str:
    """Why work of this priority waits at this level, in one line."""
    return (f"budget level {level} ({share_percent(spent, budget)}% of ${to_usd(budget)} spent in "
            f"{month}): {priority} work waits; {allowed_text(level)} run")
