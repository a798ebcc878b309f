"""Budget policy as pure functions: levels, who may run, worst cases (no broker, no clock)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketing_team.budget.policy import (
    BudgetLevel,
    admit,
    allowed_text,
    allows,
    at_least,
    forced_tier,
    level_for,
    stop_at,
    to_micros,
    to_usd,
)
from marketing_team.domain.goal import Priority

BUDGET = 1_000_000_000  # $1000 in micro-dollars


@pytest.mark.parametrize(("spent", "level"), [
    (0, BudgetLevel.NORMAL), (799_999_999, BudgetLevel.NORMAL), (800_000_000, BudgetLevel.WARNING),
    (899_999_999, BudgetLevel.WARNING), (900_000_000, BudgetLevel.THROTTLE), (949_999_999, BudgetLevel.THROTTLE),
    (950_000_000, BudgetLevel.CRITICAL), (999_999_999, BudgetLevel.CRITICAL), (1_000_000_000, BudgetLevel.EXHAUSTED),
    (2_000_000_000, BudgetLevel.EXHAUSTED),
])
def test_level_for_follows_the_80_90_95_100_thresholds(spent: int, level: BudgetLevel) -> None:
    assert level_for(spent, BUDGET) is level


def test_level_for_a_zero_budget_is_exhausted() -> None:
    assert level_for(0, 0) is BudgetLevel.EXHAUSTED


@pytest.mark.parametrize(("level", "running"), [
    (BudgetLevel.NORMAL, "P0 P1 P2 P3"), (BudgetLevel.WARNING, "P0 P1 P2"), (BudgetLevel.THROTTLE, "P0 P1"),
    (BudgetLevel.CRITICAL, "P0"), (BudgetLevel.EXHAUSTED, ""),
])
def test_allows_lets_only_the_level_s_priorities_run(level: BudgetLevel, running: str) -> None:
    assert [p.value for p in Priority if allows(level, p)] == running.split()


def test_allowed_text_names_the_running_priorities() -> None:
    assert [allowed_text(level) for level in BudgetLevel] == ["P0-P3", "P0-P2", "P0-P1", "P0", "none"]


def test_stop_at_is_the_spend_where_each_priority_starts_waiting() -> None:
    assert stop_at(BUDGET, Priority.P3) == 800_000_000
    assert stop_at(BUDGET, Priority.P2) == 900_000_000
    assert stop_at(BUDGET, Priority.P1) == 950_000_000
    assert stop_at(BUDGET, Priority.P0) is None  # P0 stops only when the money is gone
    assert stop_at(7, Priority.P3) == 6  # rounds up: 5.6 micro-dollars is not yet reached at 5


def test_at_least_orders_levels_by_severity() -> None:
    assert at_least(BudgetLevel.CRITICAL, BudgetLevel.WARNING)
    assert at_least(BudgetLevel.WARNING, BudgetLevel.WARNING)
    assert not at_least(BudgetLevel.THROTTLE, BudgetLevel.CRITICAL)


def test_forced_tier_is_haiku_from_critical_on() -> None:
    assert forced_tier(BudgetLevel.THROTTLE, "opus") == "opus"
    assert forced_tier(BudgetLevel.CRITICAL, "opus") == "haiku"
    assert forced_tier(BudgetLevel.EXHAUSTED, "sonnet") == "haiku"


def test_to_micros_rounds_costs_up_and_budgets_down() -> None:
    assert to_micros(Decimal("0.0000001")) == 1
    assert to_micros(Decimal("0.0000019"), round_up=False) == 1
    assert to_micros(Decimal("1000")) == BUDGET
    assert to_usd(1_234_567) == Decimal("1.234567")


def test_decide_defers_a_priority_the_level_does_not_allow() -> None:
    decision = admit(BudgetLevel.THROTTLE, Priority.P2, spent=910_000_000, budget=BUDGET,
                      goal_spent=0, goal_cap=100_000_000, month="2026-11")
    assert decision.kind == "defer"
    assert "throttle" in decision.reason and "P2" in decision.reason and "P0-P1 run" in decision.reason


def test_decide_stops_every_priority_when_the_month_is_spent() -> None:
    decision = admit(BudgetLevel.EXHAUSTED, Priority.P0, spent=BUDGET, budget=BUDGET,
                      goal_spent=0, goal_cap=100_000_000, month="2026-11")
    assert decision.kind == "exhausted"
    assert "BUDGET_MONTHLY" in decision.reason and "goals resume" in decision.reason


def test_decide_stops_a_goal_at_its_cap_even_at_normal_level() -> None:
    decision = admit(BudgetLevel.NORMAL, Priority.P0, spent=0, budget=BUDGET,
                      goal_spent=100_000_000, goal_cap=100_000_000, month="2026-11")
    assert decision.kind == "exhausted" and "goal budget cap" in decision.reason


def test_decide_runs_an_allowed_priority() -> None:
    assert admit(BudgetLevel.WARNING, Priority.P2, spent=850_000_000, budget=BUDGET, goal_spent=0,
                  goal_cap=100_000_000, month="2026-11").kind == "run"
