"""A reply whose usage cannot be true stops its goal, records the bound and raises agent_failure.

The real SDK against the HTTP fake, on the real worker where a goal runs; planning included.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from budget_support import PAID, offline_answer, planned_goal

from marketing_team.budget.ledger import month_of
from marketing_team.budget.policy import to_usd
from marketing_team.config.settings import load_settings
from marketing_team.director.launch import plan_goal
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import ProviderBillingError
from marketing_team.domain.event import EventType
from marketing_team.domain.goal import Category, GoalStatus, Priority
from marketing_team.domain.values import new_id, utcnow
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.llm.protocol import Message, SystemBlock
from marketing_team.store.internal_events import recent_internal
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team
from marketing_team.triggers.event_bus import event_result

MODEL = "claude-sonnet-5"


def _failures_of(rt: Runtime, goal_id: str) -> list[str]:
    return [str(e.data.get("reason")) for e in recent_internal(rt.redis)
            if e.type is EventType.AGENT_FAILURE and e.data.get("goal_id") == goal_id]


def test_a_draft_reporting_negative_usage_stops_the_goal_and_raises_agent_failure(
        paid_team: Team, fake: FakeAnthropic) -> None:
    # Given a provider that reports a huge negative usage for every draft (reviews are honest)
    def negative_drafts(request: RecordedRequest) -> FakeReply:
        if "output_config" in request.body:
            return offline_answer(request)
        return FakeReply.text(offline_answer(request).content, input_tokens=-5_000_000, output_tokens=40)

    fake.responder = negative_drafts
    # When a goal runs
    goal = paid_team.launch(planned_goal(paid_team, [["copywriting"]], Priority.P1))
    done = paid_team.wait(goal.id, timeout_s=60)

    # Then it stopped naming the model and the reply, and raised agent_failure for it
    assert done.status is GoalStatus.FAILED
    assert "negative usage" in done.status_reason and MODEL in done.status_reason
    assert "msg_fake_" in done.status_reason
    (reason,) = _failures_of(paid_team.rt, goal.id)
    assert "negative usage" in reason and "msg_fake_" in reason
    # And money only went up: the bound is recorded, the goal's cost is the ledger's, never below 0
    ledger = paid_team.rt.budget.ledger
    spent = to_usd(ledger.month(month_of(utcnow())).spent)
    assert spent > 0 and ledger.month(month_of(utcnow())).reserved == 0
    assert Decimal(0) < done.cost_usd == to_usd(ledger.goal_spent(goal.id))


def test_a_planning_reply_without_usage_raises_agent_failure_naming_model_and_reply(
        rt: Runtime, fake: FakeAnthropic) -> None:
    fake.responder = None
    fake.script(FakeReply.without_usage('{"phases": [{"name": "A", "skills": ["seo-audit"]}]}'))
    goal_id = new_id("goal")

    with pytest.raises(ProviderBillingError, match="no usage reported"):
        plan_goal(rt, "Recover organic traffic", Priority.P1, Category.CONTENT, goal_id=goal_id)

    (reason,) = _failures_of(rt, goal_id)
    assert "claude-" in reason and "msg_fake_1" in reason and "no usage reported" in reason
    assert rt.budget.ledger.goal_spent(goal_id) > 0  # the bound, under the goal that was planning


def test_a_planning_failure_goes_through_the_event_bus_like_a_workers(
        redis_server: RunningServer, tmp_path: Path, fake: FakeAnthropic) -> None:
    # Given a user mapping on agent_failure (its condition keeps it from starting anything)
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "events.yaml").write_text(
        "mappings:\n  - event: agent_failure\n    pipeline: SEO Cycle\n    priority: P1\n"
        "    condition: {field: step, op: eq, value: never}\n")
    values: dict[str, Any] = {**PAID, "anthropic_base_url": fake.url, "catalog_dir": catalog}
    cfg = load_settings(_env_file=None, workspace_dir=tmp_path / "ws", redis_url=redis_server.url, **values)
    fake.responder = None
    fake.script(FakeReply.without_usage('{"phases": [{"name": "A", "skills": ["seo-audit"]}]}'))
    with Team(redis_server, tmp_path / "ws", AnthropicProvider(cfg), **values) as team:
        # When planning (outside any task) gets a reply that cannot be billed
        with pytest.raises(ProviderBillingError):
            plan_goal(team.rt, "Recover organic traffic", Priority.P1, Category.CONTENT)

        # Then its agent_failure is handled by the bus on a worker, as a worker's failure is
        [event] = [e for e in recent_internal(team.rt.redis) if e.type is EventType.AGENT_FAILURE]
        handled = wait_for(lambda: event_result(team.rt.redis, event.id), 30, "the bus to handle it")
    assert handled["reason"] == "condition_false"


@pytest.mark.parametrize("left_out", [("output_tokens",), ("input_tokens",)])
def test_a_reply_with_part_of_its_usage_left_out_is_not_billed_as_reported(
        rt: Runtime, fake: FakeAnthropic, left_out: tuple[str, ...]) -> None:
    fake.responder = None
    fake.script(FakeReply(content="ok", input_tokens=40, output_tokens=900, usage_left_out=left_out))

    with pytest.raises(ProviderBillingError, match="no usage reported"):
        rt.guarded(new_id("goal"), "copywriting").complete(
            [SystemBlock("# Copywriting")], [Message("user", "A headline.")], MODEL, 1000)

    # the bound (over 900 output tokens), not the 40 input tokens alone
    assert to_usd(rt.budget.ledger.month(month_of(utcnow())).spent) > Decimal("0.009")
