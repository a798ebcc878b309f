"""A month's budget as one object: level, spent, budget, remaining and the breakdowns.

What `mtctl budget --json` prints and the review desk's budget page shows: one reading of the
ledger and the policy for both.
"""

from __future__ import annotations

from typing import Any

from marketing_team.budget.ledger import Spend
from marketing_team.budget.policy import level_for, share_percent, to_micros, to_usd
from marketing_team.config.settings import Settings


def usd(micros: int) -> float:
    """Micro-dollars as a float for JSON: at most 6 decimals, which a float's shortest repr prints
    back exactly; all arithmetic stays in integers and Decimal."""
    return float(to_usd(micros))


def _by(amounts: dict[str, int]) -> dict[str, float]:
    return {name: usd(value) for name, value in sorted(amounts.items(), key=lambda kv: (-kv[1], kv[0]))}


def budget_summary(cfg: Settings, spend: Spend, month: str, source: str) -> dict[str, Any]:
    """level, spent_usd, budget_usd, remaining_usd, and spend by skill (largest first), model and day."""
    budget = to_micros(cfg.budget_monthly, round_up=False)
    return {
        "month": month,
        "level": level_for(spent := spend.spent, budget).value,
        "spent_usd": usd(spent),
        "budget_usd": usd(budget),
        "remaining_usd": usd(max(0, budget - spent)),
        "reserved_usd": usd(spend.reserved),
        "share_pct": float(share_percent(spent, budget)),
        "calls": spend.calls,
        "lapsed_usd": usd(spend.lapsed),  # holds of vanished callers, charged at their bound
        "goal_cap_usd": usd(to_micros(cfg.goal_budget_cap, round_up=False)),
        "call_cap_usd": usd(to_micros(cfg.call_cost_cap, round_up=False)),
        "by_skill": _by(spend.by_skill),
        "by_model": _by(spend.by_model),
        "by_day": {day: usd(value) for day, value in sorted(spend.by_day.items())},
        "source": source,
    }
