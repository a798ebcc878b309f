"""The hard cap under concurrency: racing callers never push spend past the budget."""

from __future__ import annotations

import os
import threading
from decimal import Decimal
from pathlib import Path

import redis
from budget_support import PAID, TOKENS_IN, TOKENS_OUT, planned_goal, reported_cost, wait_until

from marketing_team.budget.ledger import Ledger, month_of
from marketing_team.budget.policy import to_micros, to_usd
from marketing_team.config.settings import load_settings
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import BudgetDeferred, BudgetExhausted
from marketing_team.domain.goal import GoalStatus, Priority
from marketing_team.domain.values import utcnow
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.llm.protocol import Message, SystemBlock
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team

MODEL = "claude-sonnet-5"
CALLERS = 50
TEN_SKILLS = ["copywriting", "social-content", "paid-ads", "cold-email", "copy-editing",
              "schema-markup", "programmatic-seo", "page-cro", "form-cro", "signup-flow-cro"]


def test_hard_cap_50_racing_sdk_calls_stay_within_the_budget(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    # Given $0.20 left of $1 and 50 callers whose replies overlap (the fake answers after 50 ms)
    reply = FakeReply(content="ok", input_tokens=TOKENS_IN, output_tokens=TOKENS_OUT, delay_s=0.05)
    with FakeAnthropic(default=None, responder=lambda request: reply) as fake:
        cfg = load_settings(_env_file=None, workspace_dir=tmp_path / "ws", redis_url=redis_server.url,
                            **{**PAID, "anthropic_base_url": fake.url, "budget_monthly": Decimal("1")})
        rt = Runtime(settings=cfg, llm=AnthropicProvider(cfg), broker_url=redis_server.url)
        book = Ledger(redis_client)
        book.record(to_micros(Decimal("0.80")))
        prompt = "Write a short line. " * 60  # ~1,200 bytes: the fake's 1,000 input tokens fit
        costs: list[Decimal] = []
        refused: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(CALLERS)

        def caller() -> None:
            start.wait()
            while True:  # a busy refusal is a deferral: try again, as a deferred task would
                try:
                    answer = rt.guarded("", "copywriting").complete(
                        [SystemBlock("be brief")], [Message("user", prompt)], MODEL, 500)
                except BudgetDeferred:
                    # a deferred task waits before it tries again: give the CPU to the threads
                    # whose calls must finish to free the room, rather than spin on it
                    os.sched_yield()
                    continue
                except BudgetExhausted as exc:
                    with lock:
                        refused.append(str(exc))
                    return
                with lock:
                    costs.append(answer.cost_usd)
                return

        # When they all race for the last 20 cents
        threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

        # Then the month never passes the budget, and only paid calls reached the fake
        month = book.month(month_of(utcnow()))
        assert len(costs) + len(refused) == CALLERS
        assert refused, "some callers must have found the budget spent"
        assert len(fake.requests) == len(costs)
        # (each reservation is a true bound, so the budget holds exactly, not within one call)
        one_call = max(costs)
        assert month.spent <= to_micros(Decimal("1"))
        assert month.spent > to_micros(Decimal("1") - 4 * one_call)  # it really ran to the edge
        assert month.reserved == 0
        # And the ledger is exactly the sum of what the fake reported
        assert to_usd(month.spent) - Decimal("0.80") == sum(costs) == reported_cost(fake.requests, cfg)
        print(f"\n{len(costs)} calls paid, {len(refused)} refused; spent ${to_usd(month.spent)} of $1")


def test_hard_cap_50_skill_tasks_on_the_worker_stop_at_the_budget(paid_team: Team,
                                                                   fake: FakeAnthropic) -> None:
    # Given $0.15 left of $10 (critical: haiku only), a goal cap as large as the month, and 5 P0
    # goals of 10 parallel skills
    rt = paid_team.reconfigure(goal_budget_share=1.0)
    book = rt.budget.ledger
    book.record(to_micros(Decimal("9.85")))

    # When all 50 skill tasks (and their reviews) race on the worker
    goals = [paid_team.launch(planned_goal(paid_team, [TEN_SKILLS], Priority.P0, f"Goal {n}"))
             for n in range(5)]
    wait_until(lambda: all(rt.goals.load(g.id).status.is_settled for g in goals),
               "every goal to settle", timeout_s=90)

    # Then spend stops within one call's worst case of the budget and matches the fake's usage
    month = book.month(month_of(utcnow()))
    assert month.spent <= to_micros(Decimal("10"))
    assert month.reserved == 0
    assert to_usd(month.spent) - Decimal("9.85") == reported_cost(fake.requests, rt.settings)
    assert {r.body["model"] for r in fake.requests} == {rt.model_for("haiku")}
    statuses = {rt.goals.load(g.id).status for g in goals}
    assert GoalStatus.BUDGET_EXHAUSTED in statuses
    print(f"\n{len(fake.requests)} paid calls; spent ${to_usd(month.spent)} of $10; goal statuses "
          f"{sorted(s.value for s in statuses)}")
