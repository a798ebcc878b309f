"""The Anthropic fake itself: defaults, responders and loud failure on unscripted requests."""

from __future__ import annotations

import pytest

from marketing_team.config.settings import load_settings
from marketing_team.domain.errors import LLMTransientError
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.llm.protocol import Message, SystemBlock
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest

SYSTEM = [SystemBlock("skill")]
MODEL = "claude-haiku-4-5"
API_KEY = "sk-ant-test-fake"


def provider_for(fake: FakeAnthropic) -> AnthropicProvider:
    return AnthropicProvider(
        load_settings(anthropic_api_key=API_KEY, anthropic_base_url=fake.url, llm_max_retries=0)
    )


def test_fake_anthropic_answers_with_its_default_when_the_script_is_empty() -> None:
    with FakeAnthropic(default=FakeReply.text("default answer")) as fake:
        reply = provider_for(fake).complete(SYSTEM, [Message("user", "hi")], MODEL, 100)

    assert reply.text == "default answer"
    assert fake.unexpected == []


def test_fake_anthropic_responder_answers_by_request_content() -> None:
    def by_content(request: RecordedRequest) -> FakeReply | None:
        return FakeReply.text("a plan") if "plan" in request.text() else None

    with FakeAnthropic(default=FakeReply.text("other"), responder=by_content) as fake:
        llm = provider_for(fake)
        planned = llm.complete(SYSTEM, [Message("user", "make a plan")], MODEL, 100)
        other = llm.complete(SYSTEM, [Message("user", "write")], MODEL, 100)

    assert (planned.text, other.text) == ("a plan", "other")


def test_fake_anthropic_without_a_default_fails_loudly_and_records_the_request() -> None:
    with FakeAnthropic(default=None) as fake:
        with pytest.raises(LLMTransientError, match="no scripted reply"):
            provider_for(fake).complete(SYSTEM, [Message("user", "surprise")], MODEL, 100)

    assert [r.body["messages"][0]["content"] for r in fake.unexpected] == ["surprise"]
