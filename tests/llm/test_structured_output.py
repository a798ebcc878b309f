"""Structured replies: a pydantic schema requested, validated, and re-prompted at most twice."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

from marketing_team.domain.errors import StructuredOutputError
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.llm.protocol import Message, SystemBlock, Usage
from marketing_team.llm.structured import extract_json_object
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply

SYSTEM = [SystemBlock("You review marketing deliverables.")]
ASK = [Message("user", "Score this headline.")]
MODEL = "claude-haiku-4-5"


class Score(BaseModel):
    """A review score."""

    score: int = Field(ge=0, le=10)
    reason: str


VALID = '{"score": 8, "reason": "clear benefit"}'


def test_structured_reply_sends_the_schema_as_native_structured_output(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    fake.script(FakeReply.text(VALID))

    reply = provider.complete(SYSTEM, ASK, MODEL, 500, schema=Score)

    assert reply.parsed == Score(score=8, reason="clear benefit")
    (request,) = fake.requests
    sent = request.body["output_config"]["format"]
    assert sent["type"] == "json_schema" and sent["schema"]["title"] == "Score"
    assert request.body["messages"][-1]["content"] == "Score this headline."  # no schema in words


@pytest.mark.parametrize("refusal", ["output_config: Extra inputs are not permitted",
                                     "structured outputs are not supported by this gateway"])
def test_a_server_refusing_native_structured_output_is_asked_in_words_from_then_on(
    fake: FakeAnthropic, provider: AnthropicProvider, refusal: str
) -> None:
    fake.refuse_native_structured_output = refusal
    fake.script(FakeReply.text(VALID), FakeReply.text(VALID))

    first = provider.complete(SYSTEM, ASK, MODEL, 500, schema=Score)
    second = provider.complete(SYSTEM, ASK, MODEL, 500, schema=Score)

    assert first.parsed == second.parsed == Score(score=8, reason="clear benefit")
    refused, asked, again = fake.requests  # one refusal, then words only, remembered
    assert "output_config" in refused.body and "output_config" not in asked.body
    assert "output_config" not in again.body
    schema_words = json.dumps(Score.model_json_schema(), separators=(",", ":"))
    assert schema_words in asked.body["messages"][-1]["content"]


def test_structured_reply_tolerates_fences_and_surrounding_prose(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    fake.script(FakeReply.text(f"Here you go:\n```json\n{VALID}\n```\nHope that helps {{:}}"))

    reply = provider.complete(SYSTEM, ASK, MODEL, 500, schema=Score)

    assert reply.parsed == Score(score=8, reason="clear benefit")
    assert len(fake.requests) == 1


def test_structured_reply_invalid_twice_then_valid_returns_the_parsed_object(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    fake.script(
        FakeReply.text("I think it is an 8.", input_tokens=100, output_tokens=10),
        FakeReply.text('{"score": 11, "reason": "great"}', input_tokens=200, output_tokens=20),
        FakeReply.text(VALID, input_tokens=300, output_tokens=30),
    )

    reply = provider.complete(SYSTEM, ASK, MODEL, 500, schema=Score)

    assert reply.parsed == Score(score=8, reason="clear benefit")
    assert reply.usage == Usage(input_tokens=600, output_tokens=60)
    assert reply.cost_usd == provider.prices.cost(MODEL, reply.usage)
    first, second, third = fake.requests
    assert "no complete JSON object" in second.body["messages"][-1]["content"]
    assert second.body["messages"][-2] == {"role": "assistant", "content": "I think it is an 8."}
    assert "score" in third.body["messages"][-1]["content"]
    assert "less than or equal to 10" in third.body["messages"][-1]["content"]


def test_structured_reply_invalid_three_times_raises_a_typed_failure(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    fake.script(*[FakeReply.text('{"score": "high"}')] * 3)

    with pytest.raises(StructuredOutputError, match="Score: no valid reply after 3 attempts"):
        provider.complete(SYSTEM, ASK, MODEL, 500, schema=Score)

    assert len(fake.requests) == 3
    assert fake.pending == 0 and fake.unexpected == []


def test_json_extraction_takes_the_first_complete_object_with_its_nesting() -> None:
    text = 'Use {placeholders} like this: {"a": {"b": [1, 2]}, "c": "}"} and {"d": 1}'

    assert extract_json_object(text) == {"a": {"b": [1, 2]}, "c": "}"}


def test_json_extraction_without_an_object_is_a_structured_output_error() -> None:
    with pytest.raises(StructuredOutputError):
        extract_json_object("[1, 2, 3] and {broken")
