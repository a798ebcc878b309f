"""The anthropic provider through the real SDK over HTTP to the local fake of the Messages API."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal

import pytest

from marketing_team.config.settings import Settings
from marketing_team.domain.errors import (
    ConfigurationError,
    LLMError,
    LLMTimeoutError,
    LLMTransientError,
)
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.llm.pricing import PriceTable
from marketing_team.llm.protocol import Message, SystemBlock, Usage
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest
from marketing_team.testing.servers import free_port

SKILL = "# Copywriting\nWrite landing page copy with a headline, proof and a call to action."
CONTEXT = "Product: Acme Ledger, bookkeeping for freelancers."
SYSTEM = [SystemBlock(SKILL), SystemBlock(CONTEXT)]
ASK = [Message("user", "Write the homepage hero.")]
MODEL = "claude-sonnet-5"
SettingsFactory = Callable[..., Settings]


def test_anthropic_request_carries_skill_and_context_as_cacheable_system_blocks(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    fake.script(FakeReply.text("Hero copy"))

    reply = provider.complete(SYSTEM + [SystemBlock("today", cache=False)], ASK, MODEL, 1000)

    assert reply.text == "Hero copy"
    (request,) = fake.requests
    assert request.path == "/v1/messages"
    assert request.body["system"] == [
        {"type": "text", "text": SKILL, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": CONTEXT, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "today"},
    ]
    assert request.body["messages"] == [{"role": "user", "content": "Write the homepage hero."}]
    assert request.body["model"] == MODEL
    assert request.body["max_tokens"] == 1000


def test_anthropic_request_leaves_out_empty_system_blocks(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    fake.script(FakeReply.text())

    provider.complete([SystemBlock(SKILL), SystemBlock("  \n")], ASK, MODEL, 1000)

    assert [block["text"] for block in fake.requests[0].body["system"]] == [SKILL]


def test_anthropic_second_call_of_a_skill_is_priced_at_cache_read_rates(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    # Given the first call writes 4000 prompt tokens to the cache and the second reads them
    fake.script(
        FakeReply.text("a", input_tokens=50, output_tokens=100, cache_creation_input_tokens=4000),
        FakeReply.text("b", input_tokens=50, output_tokens=100, cache_read_input_tokens=4000),
    )

    first = provider.complete(SYSTEM, ASK, MODEL, 1000)
    second = provider.complete(SYSTEM, ASK, MODEL, 1000)

    assert second.usage == Usage(input_tokens=50, output_tokens=100, cache_read_tokens=4000)
    # sonnet: 50*2 + 100*10 + 4000*2.5 = 11100 µ$; then 50*2 + 100*10 + 4000*0.2 = 1900 µ$
    assert first.cost_usd == Decimal("0.011100")
    assert second.cost_usd == Decimal("0.001900")


@pytest.mark.parametrize("model", ["claude-opus-5", "claude-sonnet-5", "claude-haiku-4-5"])
def test_anthropic_cost_equals_the_price_table_applied_to_reported_usage(
    fake: FakeAnthropic, provider: AnthropicProvider, model: str
) -> None:
    fake.script(
        FakeReply.text(
            "x",
            input_tokens=1111,
            output_tokens=2223,
            cache_creation_input_tokens=3331,
            cache_read_input_tokens=4447,
        )
    )

    reply = provider.complete(SYSTEM, ASK, model, 4000)

    expected_usage = Usage(
        input_tokens=1111, output_tokens=2223, cache_write_tokens=3331, cache_read_tokens=4447
    )
    assert reply.usage == expected_usage
    price = provider.prices.price(model)
    exact = (
        1111 * price.input
        + 2223 * price.output
        + 3331 * price.cache_write
        + 4447 * price.cache_read
    ) / Decimal(1_000_000)
    assert reply.cost_usd == exact.quantize(Decimal("0.000001"))
    assert reply.model == model


def test_anthropic_rate_limit_is_waited_out_by_the_sdk_alone(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    fake.script(FakeReply.rate_limited(retry_after=1), FakeReply.text("after the wait"))

    reply = provider.complete(SYSTEM, ASK, MODEL, 1000)

    assert reply.text == "after the wait"
    first, second = fake.requests
    assert second.received_at - first.received_at >= 0.95
    assert second.headers.get("x-stainless-retry-count") == "1"


def test_anthropic_server_errors_beyond_the_retry_bound_raise_a_transient_error(
    fake: FakeAnthropic, make_settings: SettingsFactory
) -> None:
    provider = AnthropicProvider(make_settings(llm_max_retries=3))
    fake.script(*[FakeReply.server_error(retry_after=0.01)] * 4)

    with pytest.raises(LLMTransientError, match="HTTP 500"):
        provider.complete(SYSTEM, ASK, MODEL, 1000)

    assert len(fake.requests) == 4
    assert fake.unexpected == []


def test_anthropic_overload_is_a_transient_error(
    fake: FakeAnthropic, make_settings: SettingsFactory
) -> None:
    provider = AnthropicProvider(make_settings(llm_max_retries=0))
    fake.script(FakeReply.overloaded())

    with pytest.raises(LLMTransientError, match="overloaded_error"):
        provider.complete(SYSTEM, ASK, MODEL, 1000)


def test_anthropic_slow_reply_beyond_the_timeout_raises_a_timeout_error(
    fake: FakeAnthropic, make_settings: SettingsFactory
) -> None:
    provider = AnthropicProvider(make_settings(llm_timeout_s=0.3, llm_max_retries=0))
    fake.script(FakeReply.slow(3.0))
    started = time.monotonic()

    with pytest.raises(LLMTimeoutError, match="0.3 s"):
        provider.complete(SYSTEM, ASK, MODEL, 1000)

    assert time.monotonic() - started < 2.5
    assert len(fake.requests) == 1


def test_anthropic_bad_request_is_a_permanent_error(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    fake.script(FakeReply.error(400, "invalid_request_error"))

    with pytest.raises(LLMError) as caught:
        provider.complete(SYSTEM, ASK, MODEL, 1000)

    assert not isinstance(caught.value, LLMTransientError)
    assert len(fake.requests) == 1


def test_anthropic_truncated_reply_is_continued_once(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    fake.script(
        FakeReply.truncated("The first half, ", output_tokens=1000),
        FakeReply.text("the second half.", input_tokens=20, output_tokens=300),
    )

    reply = provider.complete(SYSTEM, ASK, MODEL, 1000)

    assert reply.text == "The first half, the second half."
    assert reply.truncated is False
    assert reply.usage.output_tokens == 1300
    assert reply.cost_usd == provider.prices.cost(MODEL, reply.usage)
    first, continuation = fake.requests
    turns = continuation.body["messages"]
    assert turns[:2] == [
        first.body["messages"][0],
        {"role": "assistant", "content": "The first half, "},
    ]
    assert turns[2]["role"] == "user" and "Continue" in turns[2]["content"]


def test_anthropic_still_truncated_reply_is_marked_truncated(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    fake.script(FakeReply.truncated("one "), FakeReply.truncated("two "))

    reply = provider.complete(SYSTEM, ASK, MODEL, 1000)

    assert reply.truncated is True
    assert reply.text == "one two "
    assert len(fake.requests) == 2


def test_anthropic_unknown_model_is_a_configuration_error_before_any_request(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    with pytest.raises(ConfigurationError, match="claude-sonnet-4-0"):
        provider.complete(SYSTEM, ASK, "claude-sonnet-4-0", 1000)

    assert fake.requests == []


def test_anthropic_sends_the_key_to_the_server_only(
    fake: FakeAnthropic, provider: AnthropicProvider, api_key: str
) -> None:
    fake.script(FakeReply.text())

    provider.complete(SYSTEM, ASK, MODEL, 1000)

    (request,) = fake.requests
    assert any(api_key in value for value in request.headers.values())
    assert api_key not in request.text()


def test_anthropic_api_key_never_appears_in_logs_or_error_text(
    fake: FakeAnthropic,
    make_settings: SettingsFactory,
    api_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a hostile proxy that echoes the request headers back in its error messages
    def echo_headers(request: RecordedRequest) -> FakeReply:
        status = 401 if len(fake.requests) > 2 else 500
        return FakeReply(
            content=f"denied: {request.headers}",
            status=status,
            error_type="authentication_error",
            retry_after=0.01,
        )

    fake.responder = echo_headers
    provider = AnthropicProvider(
        make_settings(llm_max_retries=2), PriceTable.from_settings(make_settings())
    )
    caplog.set_level(logging.DEBUG)

    with pytest.raises(LLMError) as caught:
        provider.complete(SYSTEM, ASK, MODEL, 1000)

    assert len(fake.requests) == 3
    assert "HTTP 401" in str(caught.value)
    assert "denied" in str(caught.value)
    assert api_key not in str(caught.value)
    assert api_key not in repr(caught.value)
    assert caplog.records, "the SDK logs at DEBUG; the test must see those records"
    assert api_key not in caplog.text


def test_anthropic_refused_connection_is_one_line_naming_the_url_and_its_variable(
    make_settings: SettingsFactory, api_key: str
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    provider = AnthropicProvider(make_settings(anthropic_base_url=closed, llm_max_retries=0))

    with pytest.raises(LLMTransientError) as caught:
        provider.complete(SYSTEM, ASK, MODEL, 1000)

    text = str(caught.value)
    assert closed in text and "ANTHROPIC_BASE_URL" in text and "refused" in text.lower()
    assert "\n" not in text and api_key not in text


def test_anthropic_timeout_names_the_url_it_waited_for(
    fake: FakeAnthropic, make_settings: SettingsFactory
) -> None:
    provider = AnthropicProvider(make_settings(llm_timeout_s=0.3, llm_max_retries=0))
    fake.script(FakeReply.slow(3.0))

    with pytest.raises(LLMTimeoutError) as caught:
        provider.complete(SYSTEM, ASK, MODEL, 1000)

    assert fake.url in str(caught.value) and "ANTHROPIC_BASE_URL" in str(caught.value)


def test_anthropic_default_endpoint_is_named_when_no_base_url_is_set(
    make_settings: SettingsFactory,
) -> None:
    provider = AnthropicProvider(make_settings(anthropic_base_url=None))

    assert provider.endpoint.startswith("https://api.anthropic.com")
    assert "ANTHROPIC_BASE_URL" in provider.endpoint
