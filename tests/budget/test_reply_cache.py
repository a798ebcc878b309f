"""The reply store behind the meter: the same (goal, task, revision) is paid for once, even across redeliveries."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from marketing_team.budget.ledger import month_of
from marketing_team.director.runtime import Runtime
from marketing_team.domain.goal import Priority
from marketing_team.domain.values import new_id, utcnow
from marketing_team.llm.protocol import Message, SystemBlock, parsed_as
from marketing_team.store.replies import reply_key
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply

SYSTEM = [SystemBlock("# SEO audit skill"), SystemBlock("Product: Acme")]
ASK = [Message("user", "Audit the homepage.")]
MODEL = "claude-sonnet-5"


class Verdict(BaseModel):
    """A review verdict."""

    approved: bool


def _spent(rt: Runtime) -> int:
    return rt.budget.ledger.month_spent(month_of(utcnow()))


def test_reply_cache_same_goal_task_revision_twice_makes_one_http_request_and_one_charge(
        rt: Runtime, fake: FakeAnthropic) -> None:
    fake.script(FakeReply.text("audit", input_tokens=70, output_tokens=30))
    goal = new_id("goal")
    key = reply_key(goal, "t-3", 0, "deliverable")

    first = rt.guarded(goal, "seo-audit", key).complete(SYSTEM, ASK, MODEL, 1000)
    spent = _spent(rt)
    # A redelivered task builds everything afresh: a new guard, the same key.
    again = rt.guarded(goal, "seo-audit", reply_key(goal, "t-3", 0, "deliverable"))
    second = again.complete(SYSTEM, ASK, MODEL, 1000)

    assert len(fake.requests) == 1
    assert second == first and first.cost_usd == Decimal("0.000440")
    assert again.fresh is False and _spent(rt) == spent == 440


def test_reply_cache_a_new_revision_is_a_new_call(rt: Runtime, fake: FakeAnthropic) -> None:
    fake.script(FakeReply.text("draft 1"), FakeReply.text("draft 2"))
    goal = new_id("goal")

    one = rt.guarded(goal, "seo-audit", reply_key(goal, "t", 0, "run")).complete(SYSTEM, ASK, MODEL, 99)
    two = rt.guarded(goal, "seo-audit", reply_key(goal, "t", 1, "run")).complete(SYSTEM, ASK, MODEL, 99)

    assert (one.text, two.text) == ("draft 1", "draft 2")
    assert len(fake.requests) == 2


def test_reply_cache_revalidates_structured_replies_from_text(rt: Runtime, fake: FakeAnthropic) -> None:
    fake.script(FakeReply.text('{"approved": true}'))
    goal = new_id("goal")
    key = reply_key(goal, "t", 0, "review")
    rt.guarded(goal, "director", key).complete(SYSTEM, ASK, MODEL, 99, schema=Verdict)

    stored = rt.replies.get(f"{key}#0")  # each request of a call is stored by its number
    replayed = rt.guarded(goal, "director", key).complete(SYSTEM, ASK, MODEL, 99, schema=Verdict)

    assert stored is not None and "parsed" not in stored
    assert parsed_as(replayed, Verdict) == Verdict(approved=True)
    assert replayed.parsed == Verdict(approved=True)
    assert len(fake.requests) == 1


def test_reply_cache_a_stored_reply_that_no_longer_validates_is_asked_again(
        rt: Runtime, fake: FakeAnthropic) -> None:
    fake.script(FakeReply.text("not the schema"), FakeReply.text('{"approved": false}'))
    goal = new_id("goal")
    key = reply_key(goal, "t", 0, "review")
    rt.guarded(goal, "director", key).complete(SYSTEM, ASK, MODEL, 99)  # stored as plain text

    replayed = rt.guarded(goal, "director", key).complete(SYSTEM, ASK, MODEL, 99, schema=Verdict)

    assert replayed.parsed == Verdict(approved=False)
    assert len(fake.requests) == 2


def test_reply_cache_a_replay_of_a_known_goal_holds_nothing_and_counts_once(
        rt: Runtime, fake: FakeAnthropic) -> None:
    # A step knows its goal's priority: the stored reply's read rides with the reservation
    fake.script(FakeReply.text("audit", input_tokens=70, output_tokens=30))
    goal = new_id("goal")
    key = reply_key(goal, "t-1", 0, "skill")
    first = rt.guarded(goal, "seo-audit", key, Priority.P1).complete(SYSTEM, ASK, MODEL, 1000)

    again = rt.guarded(goal, "seo-audit", key, Priority.P1)
    second = again.complete(SYSTEM, ASK, MODEL, 1000)

    month = rt.budget.ledger.month(month_of(utcnow()))
    assert second == first and len(fake.requests) == 1
    assert again.fresh is False and month.spent == 440 and month.calls == 1
    assert month.reserved == 0  # the hold taken beside the read went back


def test_reply_cache_a_replay_needs_no_budget_left(rt: Runtime, fake: FakeAnthropic) -> None:
    # Given a reply paid for, then a month spent to its last cent by other calls
    fake.script(FakeReply.text("audit", input_tokens=70, output_tokens=30))
    goal = new_id("goal")
    key = reply_key(goal, "t-1", 0, "skill")
    first = rt.guarded(goal, "seo-audit", key, Priority.P0).complete(SYSTEM, ASK, MODEL, 1000)
    rt.budget.ledger.record(10_000_000, goal_id=new_id("goal"), skill="copywriting")

    # Then a redelivery still gets what was paid for, and pays nothing more
    again = rt.guarded(goal, "seo-audit", key, Priority.P0).complete(SYSTEM, ASK, MODEL, 1000)

    assert again == first and len(fake.requests) == 1
    assert rt.budget.ledger.month(month_of(utcnow())).reserved == 0
