"""The ledger equals what the provider billed, to the micro-dollar, whatever the provider does.

Goals run on the real worker through the real SDK against the fake, which answers one request in
five with a fault: a rate limit, a server error, a timeout, a truncated reply, invalid JSON for a
structured call, or a reply without usage. A reply without usage stops its goal, recording its
request's bound; every other served reply is recorded at its reported cost.
"""

from __future__ import annotations

import random
import threading
from decimal import Decimal
from pathlib import Path

from budget_support import PAID, offline_answer, wait_until

from marketing_team.budget.ledger import month_of
from marketing_team.budget.policy import to_usd
from marketing_team.config.settings import load_settings
from marketing_team.domain.values import utcnow
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.llm.pricing import PriceTable
from marketing_team.llm.protocol import Usage
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team

GOALS = 4
FAULT_SHARE = 0.2


KINDS = ("429", "500", "timeout", "truncated", "invalid", "no_usage")


class Faulty:
    """offline_answer, except that one request in five (seeded) gets a fault; each kind of fault
    is served once before any is drawn at random (invalid JSON only to a structured request)."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.faults: list[str] = []

    def __call__(self, request: RecordedRequest) -> FakeReply:
        good = offline_answer(request)
        structured = "output_config" in request.body
        with self.lock:
            if self.random.random() >= FAULT_SHARE:
                return good
            fits = [k for k in KINDS if structured or k != "invalid"]
            unused = [k for k in fits if k not in self.faults]
            kind = unused[0] if unused else self.random.choice(fits)
            self.faults.append(kind)
        return {
            "429": FakeReply.rate_limited(retry_after=0.01),
            "500": FakeReply.server_error(retry_after=0.01),
            "timeout": FakeReply(content=good.content, delay_s=1.5, input_tokens=good.input_tokens,
                                 output_tokens=good.output_tokens),
            "truncated": FakeReply.text(good.content[: len(good.content) // 2], input_tokens=good.input_tokens,
                                        output_tokens=good.output_tokens, stop_reason="max_tokens"),
            "invalid": FakeReply.text("Sure! Here is my review: looks good.", input_tokens=good.input_tokens,
                                      output_tokens=40),
            "no_usage": FakeReply.without_usage(good.content),
        }[kind]


def test_the_ledger_equals_what_the_provider_billed_under_injected_faults(
        redis_server: RunningServer, tmp_path: Path) -> None:
    faulty = Faulty(seed=20261129)
    with FakeAnthropic(default=None, responder=faulty) as fake:
        values = {**PAID, "anthropic_base_url": fake.url, "llm_max_retries": 2, "llm_timeout_s": 1.0,
                  "budget_monthly": Decimal("100")}
        cfg = load_settings(_env_file=None, workspace_dir=tmp_path / "ws", redis_url=redis_server.url,
                            **values)
        with Team(redis_server, tmp_path / "ws", AnthropicProvider(cfg), **values) as team:
            goals = [team.pipeline("Copywriting Review Chain") for _ in range(GOALS)]
            wait_until(lambda: all(team.rt.goals.load(g.id).status.is_settled for g in goals),
                       "every goal to settle", timeout_s=150)
            # A goal a reply without usage stopped may still have a parallel sibling in its call:
            # its hold is settled when the reply comes (a hold that never goes times out here).
            this_month = month_of(utcnow())
            wait_until(lambda: team.rt.budget.ledger.month(this_month).reserved == 0,
                       "every call in flight to settle its hold", timeout_s=60)
            settled = [team.rt.goals.load(g.id) for g in goals]
            month = team.rt.budget.ledger.month(this_month)
            recorded = [to_usd(team.rt.budget.ledger.goal_spent(g.id)) for g in goals]

    prices = PriceTable.from_settings(cfg)
    reported = sum((prices.cost(str(request.body["model"]),
                                Usage(input_tokens=reply.input_tokens, output_tokens=reply.output_tokens))
                    for request, reply in fake.served if reply.usage_reported), Decimal(0))
    # Each reply without usage stopped its goal, naming the bound it recorded instead
    bounds = [Decimal(g.status_reason.split("recorded its bound $")[1].split()[0])
              for g in settled if "recorded its bound $" in g.status_reason]
    unreported = sum(1 for _, reply in fake.served if not reply.usage_reported)

    assert set(faulty.faults) == set(KINDS), faulty.faults
    assert len(bounds) == unreported > 0
    stopped = [g for g in settled if "recorded its bound $" in g.status_reason]
    assert all(g.status.value == "failed" and "claude-" in g.status_reason and "msg_fake_" in g.status_reason
               for g in stopped)  # the reason names the model and the provider's reply id
    assert to_usd(month.spent) == reported + sum(bounds, Decimal(0))
    assert month.reserved == 0
    assert [g.cost_usd for g in settled] == recorded  # stopped goals count their bound too
    print(f"\n{len(fake.requests)} requests, faults {sorted(faulty.faults)}; ledger ${to_usd(month.spent)}"
          f" = served ${reported} + bounds {bounds}; goals {[g.status.value for g in settled]}")
