"""Every cent billed is recorded once, and no reply a provider sends can push spend past the cap.

The real SDK against the HTTP fake; the fake's `served` list is what a real server would bill.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
from budget_support import offline_answer
from pydantic import BaseModel

from marketing_team.budget.gate import reservation_lease_s
from marketing_team.budget.ledger import month_of
from marketing_team.budget.policy import to_micros, to_usd
from marketing_team.config.settings import load_settings
from marketing_team.director.launch import plan_goal
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import BudgetDeferred, ProviderBillingError, StructuredOutputError
from marketing_team.domain.goal import Category, GoalStatus, Priority
from marketing_team.domain.values import new_id, utcnow
from marketing_team.llm.pricing import PriceTable
from marketing_team.llm.protocol import Message, Reply, SystemBlock, Usage
from marketing_team.store.replies import reply_key
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest
from marketing_team.testing.team import Team

SYSTEM = [SystemBlock("# SEO audit skill: find what keeps pages from ranking")]
ASK = [Message("user", "Audit the homepage of acme.example and list the three worst problems.")]
MODEL = "claude-sonnet-5"


class Verdict(BaseModel):
    """A review verdict."""

    approved: bool


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(default=None) as server:
        yield server


def _spent(rt: Runtime) -> Decimal:
    return to_usd(rt.budget.ledger.month(month_of(utcnow())).spent)


def _billed(rt: Runtime, fake: FakeAnthropic) -> Decimal:
    """What the fake served, at the table's prices, reply by reply."""
    prices = PriceTable.from_settings(rt.settings)
    return sum((prices.cost(str(request.body["model"]),
                            Usage(input_tokens=reply.input_tokens, output_tokens=reply.output_tokens))
                for request, reply in fake.served), Decimal(0))


def test_a_structured_call_failing_validation_three_times_records_all_three(
        rt: Runtime, fake: FakeAnthropic) -> None:
    fake.script(*[FakeReply.text("I would rather talk about it.", input_tokens=40, output_tokens=9)] * 3)

    with pytest.raises(StructuredOutputError):
        rt.guarded(new_id("goal"), "director", "k").complete(SYSTEM, ASK, MODEL, 256, schema=Verdict)

    assert len(fake.served) == 3
    assert _spent(rt) == _billed(rt, fake) > 0


@pytest.mark.parametrize("reply, problem", [
    (FakeReply.text("ok", input_tokens=-5_000_000, output_tokens=5), "negative usage"),
    (FakeReply.text("ok", input_tokens=5_000_000, output_tokens=5), "input tokens reported"),
    (FakeReply.text("ok", input_tokens=40, output_tokens=9_000), "output tokens reported"),
    (FakeReply.without_usage("ok"), "no usage reported"),
])
def test_usage_a_request_cannot_have_is_a_provider_error_that_records_its_bound(
        rt: Runtime, fake: FakeAnthropic, reply: FakeReply, problem: str) -> None:
    fake.script(reply)

    with pytest.raises(ProviderBillingError, match=f"{MODEL} reply msg_fake_\\d+: [^;]*{problem}") as caught:
        rt.guarded(new_id("goal"), "copywriting").complete(SYSTEM, ASK, MODEL, 256)

    recorded = _spent(rt)
    bound = Decimal(str(caught.value).split("recorded its bound $")[1].split()[0])
    assert recorded == bound and Decimal(0) < bound < Decimal("0.01")  # never less than zero
    assert rt.budget.ledger.month(month_of(utcnow())).reserved == 0


def test_a_stored_reply_found_unsettled_is_settled_once(rt: Runtime, fake: FakeAnthropic) -> None:
    # A worker stored the reply it paid for, then died before the ledger heard of it
    goal, key = new_id("goal"), reply_key(new_id("goal"), "t", 0, "skill")
    paid = Reply(text="# Audit", stop_reason="end_turn", usage=Usage(input_tokens=30, output_tokens=12),
                 cost_usd=Decimal("0.000210"), model=MODEL, request_id="msg_paid_1")
    rt.replies.put(f"{key}#0", paid.model_dump(mode="json"))

    first = rt.guarded(goal, "seo-audit", key).complete(SYSTEM, ASK, MODEL, 256)
    again = rt.guarded(goal, "seo-audit", key).complete(SYSTEM, ASK, MODEL, 256)

    assert first.text == again.text == "# Audit" and fake.requests == []
    assert _spent(rt) == Decimal("0.000210")


def test_planning_is_metered_cached_and_counted_in_the_goal(rt: Runtime, fake: FakeAnthropic) -> None:
    plan = '{"phases": [{"name": "Audit", "skills": ["seo-audit"]}], "rationale": "start there"}'
    fake.script(FakeReply.text(plan, input_tokens=900, output_tokens=60))

    goal, note = plan_goal(rt, "Recover organic traffic", Priority.P1, Category.CONTENT)

    assert note == "model plan accepted"
    assert goal.cost_usd == _billed(rt, fake) == _spent(rt) > 0
    assert to_usd(rt.budget.ledger.goal_spent(goal.id)) == goal.cost_usd  # under the goal's cap
    again, _ = plan_goal(rt, "Recover organic traffic", Priority.P1, Category.CONTENT, goal_id=goal.id)
    assert again.plan == goal.plan and len(fake.requests) == 1  # a redelivered start pays nothing


def test_a_model_that_will_not_answer_in_json_gets_the_rule_plan_with_the_reason(
        rt: Runtime, fake: FakeAnthropic) -> None:
    fake.script(*[FakeReply.text("Great goal! First, let's talk strategy...", input_tokens=900,
                                 output_tokens=40)] * 3)

    goal, note = plan_goal(rt, "Recover organic traffic", Priority.P1, Category.CONTENT)

    assert goal.plan.source != "llm"
    assert note.startswith("rule plan: the model's plan was unusable") and goal.plan.note == note
    assert goal.cost_usd == _spent(rt) == _billed(rt, fake)  # the three paid attempts count


@pytest.mark.parametrize("message_id", ["", "msg_same"])
def test_two_workers_paying_for_one_request_are_both_recorded_whatever_id_the_server_sends(
        rt: Runtime, fake: FakeAnthropic, message_id: str) -> None:
    # A worker frozen past its heartbeat and the one that took its step over both call the model
    reply = FakeReply(content="# Audit", input_tokens=40, output_tokens=9, message_id=message_id)
    both_asked = threading.Barrier(2)

    def answer(request: RecordedRequest) -> FakeReply:
        both_asked.wait(10)  # both are mid-call before either is answered (however slow the host)
        return reply

    fake.responder = answer
    goal, key = new_id("goal"), reply_key(new_id("goal"), "t", 0, "skill")
    calls = [threading.Thread(target=rt.guarded(goal, "seo-audit", key).complete,
                              args=(SYSTEM, ASK, MODEL, 256)) for _ in range(2)]
    for call in calls:
        call.start()
    for call in calls:
        call.join(30)

    assert len(fake.served) == 2
    assert _spent(rt) == _billed(rt, fake)


def test_a_goal_costs_what_the_ledger_recorded_for_it_even_when_reviews_never_validate(
        paid_team: Team, fake: FakeAnthropic) -> None:
    def prose_reviews(request: RecordedRequest) -> FakeReply:
        if "output_config" in request.body:  # every structured reply is prose: 3 paid attempts
            return FakeReply.text("Looks good to me!", input_tokens=900, output_tokens=12)
        return offline_answer(request)

    fake.responder = prose_reviews
    goal = paid_team.pipeline("Copywriting Review Chain")
    done = paid_team.wait(goal.id, timeout_s=90)

    assert done.status is GoalStatus.COMPLETED  # the structural verdict stood in
    assert done.cost_usd == to_usd(paid_team.rt.budget.ledger.goal_spent(goal.id)) > 0


def test_planning_waits_when_the_budget_level_does_not_allow_the_priority(
        rt: Runtime, fake: FakeAnthropic) -> None:
    rt.budget.ledger.record(to_micros(Decimal("9.60")))  # critical: P0 only

    with pytest.raises(BudgetDeferred, match="P3 work waits"):
        plan_goal(rt, "Recover organic traffic", Priority.P3, Category.CONTENT)
    assert fake.requests == []  # refused before paying
    plan = '{"phases": [{"name": "Audit", "skills": ["seo-audit"]}], "rationale": "start there"}'
    fake.script(FakeReply.text(plan, input_tokens=900, output_tokens=60))
    plan_goal(rt, "Recover organic traffic", Priority.P0, Category.CONTENT)
    assert [r.body["model"] for r in fake.requests] == [rt.model_for("haiku")]  # critical: haiku


def test_a_reservation_outlives_the_longest_request_the_sdk_can_make() -> None:
    slow = load_settings(_env_file=None, llm_timeout_s=600.0, llm_max_retries=4)

    assert reservation_lease_s(slow) >= 5 * 600 + 4 * 60
    assert reservation_lease_s(load_settings(_env_file=None)) >= 2 * 660
