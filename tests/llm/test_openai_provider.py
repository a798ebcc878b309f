"""The openai provider through the real `openai` SDK against a tiny local chat-completions server."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import BaseModel, Field

from marketing_team.config.settings import load_settings
from marketing_team.domain.errors import ConfigurationError, LLMError, LLMTransientError
from marketing_team.llm.openai_provider import OpenAIProvider
from marketing_team.llm.protocol import Message, SystemBlock, Usage
from marketing_team.testing.servers import free_port

pytest.importorskip("openai", reason="the openai extra is not installed")


class ChatServer:
    """Answers POST /v1/chat/completions from a queue of (status, finish_reason, text)."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, str, str]] = []
        self.bodies: list[dict[str, Any]] = []
        self.refuse_response_format = False  # like a server that predates json_schema output
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                server.bodies.append(body)
                if server.refuse_response_format and "response_format" in body:
                    status, finish, text = 400, "", "response_format is not supported"
                else:
                    status, finish, text = server.replies.pop(0)
                payload: dict[str, Any] = {"error": {"message": text, "type": "x"}}
                if status == 200:
                    payload = {
                        "id": "c1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": finish,
                                "message": {"role": "assistant", "content": text},
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 1000,
                            "completion_tokens": 400,
                            "total_tokens": 1400,
                        },
                    }
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    server = ChatServer()
    thread = threading.Thread(
        target=server.http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield server
    server.http.shutdown()
    server.http.server_close()


def make_provider(chat: ChatServer, **overrides: object) -> OpenAIProvider:
    return OpenAIProvider(
        load_settings(
            llm_provider_choice="openai",
            openai_base_url=chat.url,
            openai_model="llama3.1",
            llm_max_retries=0,
            **overrides,
        )
    )


def test_openai_provider_maps_usage_and_prices_it_from_settings(chat: ChatServer) -> None:
    chat.replies.append((200, "stop", "hello"))
    provider = make_provider(chat, openai_price_in=Decimal("0.5"), openai_price_out=Decimal("1"))

    reply = provider.complete(
        [SystemBlock("skill"), SystemBlock("context")], [Message("user", "hi")], "llama3.1", 256
    )

    assert (reply.text, reply.stop_reason) == ("hello", "end_turn")
    assert reply.usage == Usage(input_tokens=1000, output_tokens=400)
    assert reply.cost_usd == Decimal("0.000900")
    assert chat.bodies[0]["messages"] == [
        {"role": "system", "content": "skill\n\ncontext"},
        {"role": "user", "content": "hi"},
    ]


def test_openai_provider_continues_a_length_cut_reply_once_for_free_by_default(
    chat: ChatServer,
) -> None:
    chat.replies += [(200, "length", "half "), (200, "stop", "whole")]

    reply = make_provider(chat).complete([], [Message("user", "go")], "llama3.1", 256)

    assert (reply.text, reply.truncated, reply.cost_usd) == ("half whole", False, Decimal("0"))
    assert len(chat.bodies) == 2


def test_openai_provider_translates_server_errors(chat: ChatServer) -> None:
    chat.replies += [(503, "", "busy"), (400, "", "bad model")]
    provider = make_provider(chat)

    with pytest.raises(LLMTransientError, match="HTTP 503"):
        provider.complete([], [Message("user", "go")], "llama3.1", 256)
    with pytest.raises(LLMError, match="HTTP 400") as caught:
        provider.complete([], [Message("user", "go")], "llama3.1", 256)
    assert not isinstance(caught.value, LLMTransientError)


def test_openai_provider_without_the_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # what an install without the extra looks like

    with pytest.raises(ConfigurationError, match=r"pip install '\.\[openai\]'"):
        OpenAIProvider(load_settings(llm_provider_choice="openai"))


def test_openai_refused_connection_is_one_line_naming_the_url_and_its_variable() -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    provider = OpenAIProvider(load_settings(llm_provider_choice="openai", openai_base_url=closed,
                                            openai_api_key="sk-local-NEVER-SHOW-0123456789",
                                            openai_model="llama3.1", llm_max_retries=0))

    with pytest.raises(LLMTransientError) as caught:
        provider.complete([], [Message("user", "go")], "llama3.1", 256)

    text = str(caught.value)
    assert closed in text and "MT_OPENAI_BASE_URL" in text and "refused" in text.lower()
    assert "\n" not in text and "NEVER-SHOW" not in text


class Score(BaseModel):
    """A review score."""

    score: int = Field(ge=0, le=10)
    reason: str


def test_openai_structured_reply_sends_the_schema_as_response_format_json_schema(
    chat: ChatServer,
) -> None:
    chat.replies.append((200, "stop", '{"score": 8, "reason": "clear"}'))

    reply = make_provider(chat).complete([], [Message("user", "Score it.")], "llama3.1", 256,
                                         schema=Score)

    assert reply.parsed == Score(score=8, reason="clear")
    (body,) = chat.bodies
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == Score.model_json_schema()
    assert body["messages"] == [{"role": "user", "content": "Score it."}]  # no schema in words


def test_openai_server_refusing_response_format_is_asked_in_words_from_then_on(
    chat: ChatServer,
) -> None:
    chat.refuse_response_format = True
    chat.replies += [(200, "stop", '{"score": 8, "reason": "clear"}')] * 2
    provider = make_provider(chat)

    first = provider.complete([], [Message("user", "Score it.")], "llama3.1", 256, schema=Score)
    second = provider.complete([], [Message("user", "Score it.")], "llama3.1", 256, schema=Score)

    assert first.parsed == second.parsed == Score(score=8, reason="clear")
    refused, asked, again = chat.bodies  # one refusal, then words only: remembered for this server
    assert "response_format" in refused and "response_format" not in asked
    assert "response_format" not in again
    assert '"reason"' in asked["messages"][-1]["content"]
