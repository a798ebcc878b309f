"""The Redis ledger on a real server: reservations against the caps, settlement, breakdowns, expiry."""

from __future__ import annotations

from datetime import UTC, datetime

import redis
from budget_support import wait_until

from marketing_team.budget.ledger import DAY_TTL_S, LAPSED, MONTH_TTL_S, PREFIX, Ledger

WHEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_ledger_reserve_holds_money_until_settled_to_the_actual_cost(ledger: Ledger) -> None:
    grant = ledger.reserve(50, budget=100, goal_id="goal-20261125-aaaaaa", goal_cap=80, when=WHEN)
    assert grant.outcome == "granted" and grant.reservation is not None
    assert ledger.month("2026-11").reserved == 50

    spent = ledger.settle(grant.reservation, 30, goal_id="goal-20261125-aaaaaa", skill="copywriting",
                          model="claude-sonnet-5", when=WHEN)

    month = ledger.month("2026-11")
    assert (spent, month.spent, month.reserved, month.calls) == (30, 30, 0, 1)
    assert month.by_skill == {"copywriting": 30}
    assert month.by_model == {"claude-sonnet-5": 30}
    assert month.by_goal == {"goal-20261125-aaaaaa": 30}
    assert month.by_day == {"2026-11-25": 30}
    assert ledger.goal_spent("goal-20261125-aaaaaa") == 30
    assert ledger.day("2026-11-25").by_skill == {"copywriting": 30}


def test_ledger_reserve_refuses_what_the_month_cannot_afford(ledger: Ledger) -> None:
    ledger.record(90, when=WHEN)
    assert ledger.reserve(11, budget=100, when=WHEN).outcome == "exhausted"
    assert ledger.reserve(10, budget=100, when=WHEN).outcome == "granted"


def test_ledger_reserve_is_busy_while_holds_leave_no_room(ledger: Ledger) -> None:
    first = ledger.reserve(60, budget=100, when=WHEN)
    assert ledger.reserve(60, budget=100, when=WHEN).outcome == "busy"
    assert first.reservation is not None
    ledger.release(first.reservation)
    assert ledger.reserve(60, budget=100, when=WHEN).outcome == "granted"
    assert ledger.month("2026-11").spent == 0  # a release records nothing


def test_ledger_reserve_enforces_the_goal_cap(ledger: Ledger) -> None:
    goal = "goal-20261125-bbbbbb"
    ledger.record(70, goal_id=goal, when=WHEN)
    assert ledger.reserve(20, budget=1000, goal_id=goal, goal_cap=80, when=WHEN).outcome == "goal_exhausted"
    assert ledger.reserve(10, budget=1000, goal_id=goal, goal_cap=80, when=WHEN).outcome == "granted"
    assert ledger.reserve(5, budget=1000, goal_id=goal, goal_cap=80, when=WHEN).outcome == "busy"


def test_ledger_reserve_defers_once_spend_reaches_the_priority_stop(ledger: Ledger) -> None:
    ledger.record(90, when=WHEN)
    assert ledger.reserve(1, budget=100, stop_at=90, when=WHEN).outcome == "deferred"
    assert ledger.reserve(1, budget=100, stop_at=None, when=WHEN).outcome == "granted"


def test_ledger_settle_twice_releases_the_hold_once(ledger: Ledger) -> None:
    grant = ledger.reserve(40, budget=100, when=WHEN)
    assert grant.reservation is not None
    ledger.settle(grant.reservation, 10, goal_id="", skill="director", model="m", when=WHEN)
    ledger.settle(grant.reservation, 10, goal_id="", skill="director", model="m", when=WHEN)
    month = ledger.month("2026-11")
    assert (month.spent, month.reserved) == (20, 0)


def test_ledger_hold_of_a_vanished_caller_is_charged_at_its_bound_when_it_lapses(
        redis_client: redis.Redis) -> None:
    short = Ledger(redis_client, lease_s=1)
    assert short.reserve(60, budget=100, goal_id="goal-20261125-dddddd", when=WHEN).outcome == "granted"
    assert short.reserve(41, budget=100, when=WHEN).outcome == "busy"  # held, not spent

    # A killed worker never settles, and nobody knows whether its request reached the provider:
    # the next reservation after the lease charges the hold at its bound instead of forgetting it,
    # so the month cannot spend past its budget on calls nobody settled
    wait_until(lambda: short.reserve(41, budget=100, when=WHEN).outcome == "exhausted",
               "the lapsed hold to be charged", timeout_s=5)
    month = short.month("2026-11")
    assert (month.spent, month.reserved, month.lapsed, month.calls) == (60, 0, 60, 1)
    assert month.by_skill == {LAPSED: 60} and month.by_goal == {"goal-20261125-dddddd": 60}
    assert short.goal_spent("goal-20261125-dddddd") == 60


def test_ledger_a_settled_hold_is_never_charged_again_when_its_lease_runs_out(
        redis_client: redis.Redis) -> None:
    short = Ledger(redis_client, lease_s=1)
    grant = short.reserve(60, budget=100, when=WHEN)
    assert grant.reservation is not None
    short.settle(grant.reservation, 20, goal_id="", skill="copywriting", model="m", when=WHEN)

    # When a later reservation sweeps after the settled hold's lease would have run out
    probe = short.reserve(1, budget=100, when=WHEN)
    assert probe.reservation is not None
    wait_until(lambda: short.reserve(0, budget=100, when=WHEN).held == 0, "the probe's hold to lapse",
               timeout_s=5)

    # Then only the probe (which never settled) was charged; the settled call counts once
    month = short.month("2026-11")
    assert (month.spent, month.lapsed, month.calls) == (21, 1, 2)


def test_ledger_keys_expire_day_hashes_sooner_than_months(ledger: Ledger,
                                                         redis_client: redis.Redis) -> None:
    ledger.record(5, goal_id="goal-20261125-cccccc", when=WHEN)
    day_ttl = redis_client.ttl(f"{PREFIX}day:2026-11-25")
    month_ttl = redis_client.ttl(f"{PREFIX}month:2026-11")
    goal_ttl = redis_client.ttl(f"{PREFIX}goal:goal-20261125-cccccc")
    assert 0 < day_ttl <= DAY_TTL_S < month_ttl <= MONTH_TTL_S
    assert 0 < goal_ttl <= MONTH_TTL_S


def test_ledger_mark_once_is_true_for_the_first_caller_only(ledger: Ledger) -> None:
    assert ledger.mark_once("announced:2026-11:warning", 60)
    assert not ledger.mark_once("announced:2026-11:warning", 60)


def test_ledger_a_hold_settled_after_it_lapsed_counts_once_at_its_actual_cost(
        redis_client: redis.Redis) -> None:
    short = Ledger(redis_client, lease_s=1)
    goal = "goal-20261125-eeeeee"
    grant = short.reserve(60, budget=100, goal_id=goal, when=WHEN)
    assert grant.reservation is not None

    # Its caller is only slow (a frozen worker, a reply at the end of its lease, a Redis blip
    # around it): another reservation finds the hold lapsed and charges it at its bound
    wait_until(lambda: short.reserve(0, budget=100, when=WHEN).held == 0
               and short.month("2026-11").lapsed == 60, "the hold to lapse and be charged", timeout_s=5)

    # Then the caller settles its reply after all (retried once, as `durably` may)
    for _ in range(2):
        short.settle(grant.reservation, 20, goal_id=goal, skill="copywriting", model="m", when=WHEN,
                     once="reply-1")

    # The reply counts once, at what it cost: the bound charged for it is taken back
    month = short.month("2026-11")
    assert (month.spent, month.reserved, month.lapsed, month.calls) == (20, 0, 0, 1)
    assert month.by_skill == {"copywriting": 20} and month.by_model == {"m": 20}
    assert month.by_goal == {goal: 20} and month.by_day == {"2026-11-25": 20}
    assert short.goal_spent(goal) == 20
    day = short.day("2026-11-25")
    assert (day.spent, day.lapsed, day.calls, day.by_skill) == (20, 0, 1, {"copywriting": 20})

