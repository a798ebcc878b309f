"""The reply cache: the same (goal, task, revision) is paid for once, even across redeliveries."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel

from marketing_team.errors import CorruptFileError
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.llm.protocol import Message, Reply, SystemBlock, Usage, parsed_as
from marketing_team.llm.reply_cache import CachedLLM, ReplyCache, cached_complete, reply_key
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply

SYSTEM = [SystemBlock("# SEO audit skill"), SystemBlock("Product: Acme")]
ASK = [Message("user", "Audit the homepage.")]
MODEL = "claude-sonnet-5"


class Verdict(BaseModel):
    """A review verdict."""

    approved: bool


def test_reply_cache_same_goal_task_revision_twice_makes_one_http_request(
    fake: FakeAnthropic, provider: AnthropicProvider, tmp_path: Path
) -> None:
    fake.script(FakeReply.text("audit", input_tokens=70, output_tokens=30))
    cache = ReplyCache(tmp_path / "replies")
    key = reply_key("g-1", "t-3", 0, "deliverable")

    first = cached_complete(provider, cache, key, SYSTEM, ASK, MODEL, 1000)
    # A redelivered task builds everything afresh: a new provider object, the same key.
    again = CachedLLM(
        provider, ReplyCache(tmp_path / "replies"), reply_key("g-1", "t-3", 0, "deliverable")
    )
    second = again.complete(SYSTEM, ASK, MODEL, 1000)

    assert len(fake.requests) == 1
    assert second == first
    assert again.from_cache is True
    assert second.cost_usd == Decimal("0.000440")


def test_reply_cache_a_new_revision_is_a_new_call(
    fake: FakeAnthropic, provider: AnthropicProvider, tmp_path: Path
) -> None:
    fake.script(FakeReply.text("draft 1"), FakeReply.text("draft 2"))
    cache = ReplyCache(tmp_path)

    one = cached_complete(provider, cache, reply_key("g", "t", 0, "run"), SYSTEM, ASK, MODEL, 99)
    two = cached_complete(provider, cache, reply_key("g", "t", 1, "run"), SYSTEM, ASK, MODEL, 99)

    assert (one.text, two.text) == ("draft 1", "draft 2")
    assert len(fake.requests) == 2


def test_reply_cache_revalidates_structured_replies_from_text(
    fake: FakeAnthropic, provider: AnthropicProvider, tmp_path: Path
) -> None:
    fake.script(FakeReply.text('{"approved": true}'))
    cache = ReplyCache(tmp_path)
    key = reply_key("g", "t", 0, "review")
    cached_complete(provider, cache, key, SYSTEM, ASK, MODEL, 99, schema=Verdict)

    stored = cache.get(key)
    replayed = cached_complete(provider, cache, key, SYSTEM, ASK, MODEL, 99, schema=Verdict)

    assert stored is not None and stored.parsed is None
    assert parsed_as(stored, Verdict) == Verdict(approved=True)
    assert replayed.parsed == Verdict(approved=True)
    assert len(fake.requests) == 1


def test_reply_cache_round_trips_every_field_but_parsed(tmp_path: Path) -> None:
    reply = Reply(
        text="x",
        stop_reason="max_tokens",
        model=MODEL,
        truncated=True,
        usage=Usage(input_tokens=1, output_tokens=2, cache_write_tokens=3, cache_read_tokens=4),
        cost_usd=Decimal("0.123457"),
        duration_s=1.5,
    )
    cache = ReplyCache(tmp_path)

    cache.put("k", reply)

    assert cache.get("k") == reply
    assert cache.get("other") is None
    assert list(tmp_path.iterdir()) == [cache.path_for("k")]


@pytest.mark.parametrize(
    "content",
    ["{not json", '{"key": "k", "reply": {"text": 1}}', '{"key": "someone else", "reply": {}}'],
)
def test_reply_cache_corrupt_file_is_an_error_naming_the_file(tmp_path: Path, content: str) -> None:
    cache = ReplyCache(tmp_path)
    cache.path_for("k").write_text(content, encoding="utf-8")

    with pytest.raises(CorruptFileError, match=str(cache.path_for("k"))):
        cache.get("k")
