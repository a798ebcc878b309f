"""A redelivery that replays a stored reply while Redis goes away leaves no hold behind.

The stored reply's read rides with a reservation; when the reply is there, that hold must go back.
A real appendonly server dies right after the reservation reached it (a proxy freezes the client
there): the replay must wait for the server like any paid reply's write, not leave the hold to
lapse and be charged at its bound for a call nobody made.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from budget_support import PAID, offline_answer

from marketing_team.budget.ledger import month_of
from marketing_team.config.settings import load_settings
from marketing_team.director.runtime import build_runtime
from marketing_team.domain.goal import Priority
from marketing_team.domain.values import new_id, utcnow
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.llm.protocol import Message, Reply, SystemBlock
from marketing_team.store.replies import reply_key
from marketing_team.testing.fake_anthropic import FakeAnthropic
from marketing_team.testing.fault_proxy import FaultProxy, writes
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import RunningServer

MODEL = "claude-sonnet-5"
SYSTEM = [SystemBlock("# SEO audit skill")]
ASK = [Message("user", "Audit acme.example")]


def test_a_replay_whose_server_dies_after_its_reservation_leaves_no_hold(
        own_server: RunningServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with FakeAnthropic(default=None, responder=offline_answer) as fake, \
            FaultProxy.in_front_of(own_server) as proxy:
        cfg = load_settings(_env_file=None, workspace_dir=tmp_path / "ws", redis_url=own_server.url,
                            **{**PAID, "anthropic_base_url": fake.url})
        # Given a reply paid for and stored
        goal = new_id("goal")
        key = reply_key(goal, "t", 0, "seo-audit")
        direct = build_runtime(cfg, own_server.url, AnthropicProvider(cfg))
        first = direct.guarded(goal, "seo-audit", key, Priority.P1).complete(SYSTEM, ASK, MODEL, 1024)
        month = month_of(utcnow())
        spent = direct.budget.ledger.month(month).spent

        # When its redelivery's reservation (the record names the goal) reaches the server, and
        # the server dies before the next command
        proxy.freeze_after(writes("mt:budget:", "EVALSHA", containing=f"|{goal}|".encode()))
        behind = build_runtime(cfg, proxy.url, AnthropicProvider(cfg))
        replayed: list[Reply] = []
        failed: list[BaseException] = []

        def replay() -> None:
            try:
                llm = behind.guarded(goal, "seo-audit", key, Priority.P1)
                replayed.append(llm.complete(SYSTEM, ASK, MODEL, 1024))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
                failed.append(exc)

        worker = threading.Thread(target=replay)
        worker.start()
        assert proxy.frozen.wait(30), "the replay's reservation never reached the server"
        wait_for(lambda: direct.budget.ledger.month(month).reserved > 0, 30, "the replay's hold")
        own_server.kill()
        proxy.heal()
        # The server comes back once the replay gave up or is waiting for it
        wait_for(lambda: not worker.is_alive() or any(
            getattr(r, "event", "") == "paid_reply_waiting_for_redis" for r in caplog.records),
            30, "the replay to give up or wait for Redis")
        own_server.start()
        worker.join(90)

    # Then the replay got what was paid for, and nothing is held or charged again
    after = build_runtime(cfg, own_server.url).budget.ledger.month(month)
    assert (after.reserved, after.spent) == (0, spent)
    assert failed == [] and replayed == [first]
    assert len(fake.requests) == 1
