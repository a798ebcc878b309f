"""A reply paid for while Redis is briefly away is still recorded once Redis is back.

A real appendonly server is SIGKILLed while a request is at the model and started again just
after the model answered: the worker holds a reply the provider billed and nowhere to write it.
It must wait for the server (a restart takes seconds) rather than drop what was billed.
"""

from __future__ import annotations

import contextlib
import threading
from decimal import Decimal
from pathlib import Path

import redis
from budget_support import PAID, offline_answer

from marketing_team.budget.ledger import month_of
from marketing_team.budget.policy import to_usd
from marketing_team.config.settings import load_settings
from marketing_team.director.runtime import build_runtime
from marketing_team.domain.values import new_id, utcnow
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.llm.pricing import PriceTable
from marketing_team.llm.protocol import Message, SystemBlock, Usage
from marketing_team.store.replies import reply_key
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import RunningServer

MODEL = "claude-sonnet-5"


def test_a_reply_that_arrives_while_redis_restarts_is_recorded_when_it_is_back(
        own_server: RunningServer, tmp_path: Path) -> None:
    def late(request: RecordedRequest) -> FakeReply:
        good = offline_answer(request)
        return FakeReply(content=good.content, input_tokens=good.input_tokens,
                         output_tokens=good.output_tokens, delay_s=1.0)

    with FakeAnthropic(default=None, responder=late) as fake:
        cfg = load_settings(_env_file=None, workspace_dir=tmp_path / "ws", redis_url=own_server.url,
                            **{**PAID, "anthropic_base_url": fake.url})
        rt = build_runtime(cfg, own_server.url, AnthropicProvider(cfg))
        goal = new_id("goal")
        llm = rt.guarded(goal, "seo-audit", reply_key(goal, "t", 0, "seo-audit"))

        def blip() -> None:
            # When the request is at the model, the server dies; it is back once the model answered
            wait_for(lambda: fake.requests, 30, "the request at the model")
            own_server.kill()
            wait_for(lambda: fake.served, 30, "the model's answer")
            own_server.start()

        outage = threading.Thread(target=blip)
        outage.start()
        with contextlib.suppress(redis.RedisError):
            llm.complete([SystemBlock("# SEO audit skill")], [Message("user", "Audit acme.example")],
                         MODEL, 1024)
        outage.join(60)

    # Then what the provider billed is in the ledger, and no hold is left
    prices = PriceTable.from_settings(cfg)
    billed = sum((prices.cost(str(req.body["model"]), Usage(input_tokens=rep.input_tokens,
                                                             output_tokens=rep.output_tokens))
                  for req, rep in fake.served), Decimal(0))
    assert billed > 0
    month = build_runtime(cfg, own_server.url).budget.ledger.month(month_of(utcnow()))
    assert to_usd(month.spent) == billed and month.reserved == 0
