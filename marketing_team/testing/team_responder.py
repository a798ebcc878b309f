"""A responder for the Anthropic HTTP fake that answers like the offline provider.

With it, a whole goal runs through the real `anthropic` SDK over HTTP (in a worker process of its
own, if need be) while every request is counted at the fake.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from pydantic import BaseModel

from marketing_team.director.classify import CategoryChoice
from marketing_team.director.planning import PlanProposal
from marketing_team.director.review import ReviewReply
from marketing_team.llm.offline import OfflineProvider
from marketing_team.llm.protocol import Message, SystemBlock
from marketing_team.testing.fake_anthropic import FakeReply, RecordedRequest

SCHEMAS: dict[str, type[BaseModel]] = {
    cls.__name__: cls for cls in (PlanProposal, ReviewReply, CategoryChoice)
}
_SCHEMA_TAIL = re.compile(r"\n*Reply with only one JSON object.*?JSON schema:\n(\{.*\})\s*$", re.DOTALL)


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(block.get("text", "") for block in content if isinstance(block, dict))
    return ""


def answer(request: RecordedRequest) -> tuple[str, int, int]:
    """The offline provider's answer to an Anthropic Messages request: (text, tokens in, out)."""
    body = request.body
    system = [SystemBlock(_text([b]) if isinstance(b, dict) else str(b))
              for b in (body.get("system") or [])]
    messages = [Message(m["role"], _text(m["content"])) for m in body.get("messages", [])]
    schema: type[BaseModel] | None = None
    native = (body.get("output_config") or {}).get("format") or {}
    found = _SCHEMA_TAIL.search(messages[-1].content) if messages else None
    if native:  # structured output asked natively: the schema rides beside the messages
        schema = SCHEMAS.get(str(native.get("schema", {}).get("title", "")))
    elif found is not None:  # the fallback: the schema in words at the end of the last turn
        title = json.loads(found.group(1)).get("title", "")
        schema = SCHEMAS.get(title)
        messages[-1] = Message("user", messages[-1].content[: found.start()])
    reply = OfflineProvider().complete(system, messages, "offline", 8192, schema=schema)
    return reply.text, reply.usage.input_tokens, reply.usage.output_tokens


def skill_of(request: RecordedRequest) -> str | None:
    """The skill a request drafts for (None for reviews, plans and other Director calls)."""
    marker = "produce the "
    if request.body.get("output_config"):
        return None  # a structured call: a review, a plan, a classification
    for message in request.body.get("messages", []):
        content = message["content"] if isinstance(message["content"], str) else json.dumps(message["content"])
        if marker in content and "ReviewReply" not in content:
            return content.split(marker, 1)[1].split(" deliverable", 1)[0]
    return None


def offline_responder(delay: Callable[[RecordedRequest], float] | None = None
                      ) -> Callable[[RecordedRequest], FakeReply]:
    """A responder answering every request like the offline provider, optionally late."""

    def respond(request: RecordedRequest) -> FakeReply:
        text, tokens_in, tokens_out = answer(request)
        reply = FakeReply.text(text, input_tokens=tokens_in, output_tokens=tokens_out)
        wait = delay(request) if delay is not None else 0.0
        if wait:
            reply = FakeReply(content=reply.content, input_tokens=tokens_in, output_tokens=tokens_out,
                              delay_s=wait)
        return reply

    return respond
