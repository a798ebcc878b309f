"""The gate on a real worker with the real SDK against the fake: defer by priority, stop when spent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from budget_support import planned_goal, raise_budget, reported_cost, wait_until

from marketing_team.budget.ledger import month_of
from marketing_team.budget.policy import to_micros
from marketing_team.director import phases
from marketing_team.domain.errors import BudgetDeferred, BudgetExhausted
from marketing_team.domain.event import EventType
from marketing_team.domain.goal import GoalStatus, Priority, TaskStatus
from marketing_team.domain.values import utcnow
from marketing_team.orchestration import dispatch
from marketing_team.store.internal_events import recent_internal
from marketing_team.store.parked import ParkedWork
from marketing_team.testing.fake_anthropic import FakeAnthropic
from marketing_team.testing.team import Team


def _rechecks(team: Team) -> int:
    """How often the most-waited parked step was checked again and parked once more."""
    return max((step.waits for step in ParkedWork(team.rt.redis).waiting()), default=0)


def _spent(team: Team) -> Decimal:
    return team.rt.budget.ledger.month(month_of(utcnow())).spent * Decimal("0.000001")


def test_gate_p2_waits_at_90_percent_while_p0_runs_then_finishes_when_the_budget_rises(
        paid_team: Team, fake: FakeAnthropic) -> None:
    # Given 89.88 % of $10 spent and a two-phase P2 goal whose first phase crosses 90 %
    paid_team.rt.budget.ledger.record(to_micros(Decimal("8.988")))
    p2 = paid_team.launch(planned_goal(paid_team, [["copywriting"], ["social-content"]], Priority.P2))

    # When phase 1 (a skill call and its review, $0.007 each) pushes spend to 90.02 %
    wait_until(lambda: paid_team.rt.goals.load(p2.id).status is GoalStatus.WAITING_BUDGET,
               "the P2 goal to wait for budget")

    # Then phase 2 is parked, and however often it is checked again it never reaches the model
    wait_until(lambda: _rechecks(paid_team) >= 1, "a recheck of the parked phase-2 task")
    waiting = paid_team.rt.goals.load(p2.id)
    assert waiting.status is GoalStatus.WAITING_BUDGET
    assert "throttle" in waiting.status_reason and "P2" in waiting.status_reason
    assert waiting.phase_tasks(1)[0].status is TaskStatus.DEFERRED
    assert len(fake.requests) == 2

    # And a P0 goal runs to the end meanwhile
    p0 = paid_team.launch(planned_goal(paid_team, [["paid-ads"]], Priority.P0))
    assert paid_team.wait(p0.id).status is GoalStatus.COMPLETED
    assert paid_team.rt.goals.load(p2.id).status is GoalStatus.WAITING_BUDGET

    # When the operator raises BUDGET_MONTHLY (the ledger survives: it lives in Redis)
    rt = raise_budget(paid_team, "20")

    # Then the P2 goal resumes by itself and finishes; the ledger matches the fake's usage
    wait_until(lambda: rt.goals.load(p2.id).status is GoalStatus.COMPLETED, "the P2 goal to finish")
    assert _spent(paid_team) == Decimal("8.988") + reported_cost(fake.requests, rt.settings)


def test_gate_exhausted_month_stops_the_goal_resumable_without_calling_the_model(
        paid_team: Team, fake: FakeAnthropic) -> None:
    # Given $9.99 of $10 spent: a P0 goal may start, but no call's worst case fits any more
    paid_team.rt.budget.ledger.record(to_micros(Decimal("9.99")))
    goal = paid_team.launch(planned_goal(paid_team, [["copywriting"]], Priority.P0))

    # When its skill task reaches the hard cap
    stopped = paid_team.wait(goal.id)

    # Then the goal is budget_exhausted with a reason, and the fake received nothing
    assert stopped.status is GoalStatus.BUDGET_EXHAUSTED, stopped.status_reason
    assert "monthly budget exhausted" in stopped.status_reason
    assert fake.requests == []

    # When the budget is raised and the goal resumed (what `mtctl goals resume` does)
    rt = raise_budget(paid_team, "20")
    phases.reopen(rt, goal.id)
    dispatch.start(paid_team.app, rt, goal.id)

    # Then it finishes without re-running anything already done
    assert paid_team.wait(goal.id).status is GoalStatus.COMPLETED
    assert len(fake.requests) == 2  # one skill call and its review


def test_gate_call_waits_while_holds_in_flight_leave_no_room(paid_team: Team, fake: FakeAnthropic) -> None:
    # Given nothing spent but $9.99 of $10 held by calls in flight elsewhere
    book = paid_team.rt.budget.ledger
    hold = book.reserve(to_micros(Decimal("9.99")), budget=to_micros(Decimal("10")))
    assert hold.reservation is not None
    goal = paid_team.launch(planned_goal(paid_team, [["copywriting"]], Priority.P1))

    # When its skill call cannot reserve its worst case, the task is deferred from inside its body
    wait_until(lambda: paid_team.rt.goals.load(goal.id).status is GoalStatus.WAITING_BUDGET,
               "the goal to wait for the holds")
    assert "in flight" in paid_team.rt.goals.load(goal.id).status_reason
    assert fake.requests == []

    # Then once the other calls settle it runs and finishes
    book.settle(hold.reservation, 0, goal_id="", skill="director", model="claude-sonnet-5")
    assert paid_team.wait(goal.id).status is GoalStatus.COMPLETED


@pytest.mark.parametrize(("spent", "priority", "error", "level"), [
    ("8.1", Priority.P3, BudgetDeferred, "warning"),
    ("9.1", Priority.P2, BudgetDeferred, "throttle"),
    ("9.6", Priority.P1, BudgetDeferred, "critical"),
    ("10", Priority.P0, BudgetExhausted, "exhausted"),
])
def test_gate_refuses_to_publish_what_the_level_does_not_allow(
        paid_team: Team, fake: FakeAnthropic, spent: str, priority: Priority,
        error: type[Exception], level: str) -> None:
    paid_team.rt.budget.ledger.record(to_micros(Decimal(spent)))
    goal = planned_goal(paid_team, [["copywriting"]], priority)

    with pytest.raises(error) as refused:
        paid_team.launch(goal)

    message = str(refused.value)
    assert "\n" not in message and goal.id in message and level in message
    stored = paid_team.rt.goals.load(goal.id)
    expected = GoalStatus.BUDGET_EXHAUSTED if error is BudgetExhausted else GoalStatus.PLANNED
    assert stored.status is expected and stored.status_reason.startswith("not started")
    assert fake.requests == []


def test_a_goal_a_trigger_starts_in_a_spent_month_is_budget_exhausted_not_failed(
        paid_team: Team, fake: FakeAnthropic) -> None:
    # Given a month spent to its last cent, and a goal a schedule or an event starts (their path
    # stores the goal, then publishes it)
    paid_team.rt.budget.ledger.record(to_micros(Decimal("10")))
    goal = planned_goal(paid_team, [["copywriting"]], Priority.P0)

    with pytest.raises(BudgetExhausted):
        dispatch.publish_goal(paid_team.app, paid_team.rt, goal)

    # Then it is stopped as the SPEC says (budget_exhausted, resumable), not failed
    stored = paid_team.rt.goals.load(goal.id)
    assert stored.status is GoalStatus.BUDGET_EXHAUSTED, stored.status_reason
    assert stored.status_reason.startswith("not started") and fake.requests == []


def test_gate_goal_cap_stops_one_goal_while_others_run(paid_team: Team, fake: FakeAnthropic) -> None:
    # Given a goal that already spent its cap (10 % of $10)
    goal = planned_goal(paid_team, [["copywriting"]], Priority.P0)
    paid_team.rt.budget.ledger.record(to_micros(Decimal("1")), goal_id=goal.id)

    with pytest.raises(BudgetExhausted, match="goal budget cap"):
        paid_team.launch(goal)
    other = paid_team.launch(planned_goal(paid_team, [["copywriting"]], Priority.P0))
    assert paid_team.wait(other.id).status is GoalStatus.COMPLETED


def test_gate_announces_each_level_once_a_month(paid_team: Team) -> None:
    rt = paid_team.rt
    book = rt.budget.ledger

    book.record(to_micros(Decimal("8.5")))
    first = [rt.budget.announcements() for _ in range(3)]
    book.record(to_micros(Decimal("1.2")))
    second = [rt.budget.announcements() for _ in range(3)]

    assert [[e.type for e in found] for found in first] == [[EventType.BUDGET_WARNING], [], []]
    assert [[e.type for e in found] for found in second] == [[EventType.BUDGET_CRITICAL], [], []]
    critical = second[0][0]
    assert critical.data["level"] == "critical" and critical.data["month"] == month_of(utcnow())


def test_a_paid_task_that_crosses_a_level_records_the_announcement(paid_team: Team) -> None:
    # Given 79.99 % of $10 spent
    paid_team.rt.budget.ledger.record(to_micros(Decimal("7.999")))

    # When one skill and its review (about $0.007 each) push spend past 80 %
    goal = paid_team.launch(planned_goal(paid_team, [["copywriting"]], Priority.P0))

    # Then the goal completes and budget_warning is recorded once, by the task that crossed it
    assert paid_team.wait(goal.id).status is GoalStatus.COMPLETED
    kinds = [e.type for e in recent_internal(paid_team.rt.redis)]
    assert kinds == [EventType.BUDGET_WARNING]


def test_gate_critical_level_forces_haiku(paid_team: Team) -> None:
    rt = paid_team.rt
    assert rt.budget.effective_tier("opus") == "opus"
    rt.budget.ledger.record(to_micros(Decimal("9.5")))
    assert rt.budget.effective_tier("opus") == "haiku"
