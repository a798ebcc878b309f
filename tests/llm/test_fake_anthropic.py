"""The Anthropic fake itself: defaults, responders and loud failure on unscripted requests."""

from __future__ import annotations

import http.client
import json
import threading
import time
from urllib.parse import urlsplit

import pytest

from marketing_team.config.settings import load_settings
from marketing_team.domain.errors import LLMTransientError
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.llm.protocol import Message, SystemBlock
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest
from marketing_team.testing.processes import wait_for

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


def test_fake_anthropic_latency_counts_from_the_request_arriving_not_from_the_answer_being_ready() -> None:
    # A "0.4 s model" answers 0.4 s after the request arrives, however long the fake itself took
    # to make the answer up (here 0.4 s of it): benchmarks charge everything past it to us.
    def slow_to_compose(request: RecordedRequest) -> FakeReply:
        time.sleep(0.4)  # the fake's own work, standing in for composing a long answer
        return FakeReply.slow(0.4, "composed")

    with FakeAnthropic(responder=slow_to_compose) as fake:
        llm = provider_for(fake)
        started = time.monotonic()
        reply = llm.complete(SYSTEM, [Message("user", "write")], MODEL, 100)
        elapsed = time.monotonic() - started

    assert reply.text == "composed"
    assert 0.4 <= elapsed < 0.7, elapsed  # from the answer being ready it would be >= 0.8 s


def test_fake_anthropic_keeps_a_connection_alive_between_requests_as_the_real_api_does() -> None:
    # A fake that closed every connection would charge each call a TCP connect and a new server
    # thread: latency the model it stands for never has.
    body = json.dumps({"model": MODEL, "max_tokens": 10,
                       "messages": [{"role": "user", "content": "hi"}]})
    headers = {"content-type": "application/json", "x-api-key": API_KEY}
    with FakeAnthropic(default=FakeReply.text("ok")) as fake:
        address = urlsplit(fake.url)
        conn = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
        try:
            sockets, closing = [], []
            for _ in range(2):
                conn.request("POST", "/v1/messages", body=body, headers=headers)
                reply = conn.getresponse()
                reply.read()
                sockets.append(conn.sock)
                closing.append(reply.will_close)
        finally:
            conn.close()

    assert closing == [False, False]
    assert sockets[0] is not None and sockets[0] is sockets[1]
    assert len(fake.served) == 2


def test_fake_anthropic_once_stopped_answers_nothing_even_on_a_connection_kept_alive() -> None:
    # Given a client whose connection to the fake was kept alive by an earlier call
    with FakeAnthropic(default=FakeReply.text("ok")) as fake:
        llm = provider_for(fake)
        llm.complete(SYSTEM, [Message("user", "hi")], MODEL, 100)

    # When it calls again after the fake stopped, then it reaches nobody, as with a stopped API
    # (a test stopping the fake to play an outage must not be answered by a leftover thread)
    with pytest.raises(LLMTransientError):
        llm.complete(SYSTEM, [Message("user", "again")], MODEL, 100)
    assert len(fake.requests) == 1


def test_fake_anthropic_stopping_hangs_up_on_a_call_waiting_for_a_late_reply() -> None:
    # Given a call waiting for a reply the fake will send 2 s after it arrived
    outcome: list[BaseException] = []
    with FakeAnthropic(default=FakeReply.slow(2.0)) as fake:
        llm = AnthropicProvider(load_settings(anthropic_api_key=API_KEY, anthropic_base_url=fake.url,
                                              llm_max_retries=0, llm_timeout_s=10.0))

        def call() -> None:
            try:
                llm.complete(SYSTEM, [Message("user", "hi")], MODEL, 100)
            except LLMTransientError as exc:
                outcome.append(exc)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        wait_for(lambda: len(fake.requests) == 1, 5, "the call to reach the fake")
    # When the fake stops (the with block's end), then the caller hears so at once, as when the
    # server it called went away, instead of waiting out its own timeout for a reply never sent
    stopped = time.monotonic()
    caller.join(timeout=8)
    assert not caller.is_alive() and len(outcome) == 1
    assert time.monotonic() - stopped < 2.0
