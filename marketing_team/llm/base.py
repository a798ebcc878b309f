"""What every HTTP provider shares: continuing truncated replies and bounded structured re-prompts."""

from __future__ import annotations

import itertools
import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from marketing_team.domain.errors import StructuredOutputError
from marketing_team.llm.bounds import input_bound
from marketing_team.llm.pricing import PriceTable
from marketing_team.llm.protocol import Message, Reply, RequestMeter, SystemBlock, Usage
from marketing_team.llm.structured import json_schema_of, parse_structured

log = logging.getLogger(__name__)

# A reply failing validation is sent back with the error at most this many times (SPEC §4).
MAX_REPROMPTS = 2
# Anything shaped like an API key or a bearer credential is masked in error text, in case a
# proxy or server echoes the request headers back in its error body.
_SECRET_SHAPES = re.compile(r"sk-[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]+")
MAX_DETAIL_CHARS = 500
CONTINUE_PROMPT = (
    "Your previous reply was cut off by the output limit. Continue exactly where it stopped, "
    "without repeating anything already written and without any preamble."
)


class BaseProvider(ABC):
    """`complete()` built on one abstract HTTP round trip, `_call`."""

    name: str = "base"

    def __init__(self, prices: PriceTable) -> None:
        self.prices = prices

    @abstractmethod
    def _call(
        self,
        system_blocks: list[SystemBlock],
        messages: list[Message],
        model: str,
        max_tokens: int,
        json_schema: dict[str, Any] | None,
    ) -> Reply:
        """One request to the server; SDK exceptions are translated to ours here."""

    def complete(
        self,
        system_blocks: list[SystemBlock],
        messages: list[Message],
        model: str,
        max_tokens: int,
        schema: type[BaseModel] | None = None,
        meter: RequestMeter | None = None,
    ) -> Reply:
        """Complete the conversation; with a schema, `Reply.parsed` holds a validated instance.

        Every HTTP request (continuations and re-prompts too) goes through the meter, numbered in
        order: each is reserved at its bound before it is sent and settled once when it returns,
        so a call that fails validation after three paid attempts has paid for three.
        """
        self.prices.price(model)  # an unpriced model fails before any money is spent
        json_schema = json_schema_of(schema) if schema is not None else None
        numbers = itertools.count()
        conversation = list(messages)
        spent: list[Reply] = []
        reply = self._complete_text(system_blocks, conversation, model, max_tokens, json_schema,
                                    meter, numbers)
        spent.append(reply)
        if schema is None:
            return self._summed(reply, spent)
        attempt = 1
        while True:
            try:
                parsed = parse_structured(reply.text, schema)
            except StructuredOutputError as exc:
                if attempt > MAX_REPROMPTS:
                    total = self._summed(reply, spent)
                    raise StructuredOutputError(
                        f"{schema.__name__}: no valid reply after {attempt} attempts "
                        f"(spent ${total.cost_usd}); last error: {exc}"
                    ) from None
                log.info("re-prompting %s: reply failed %s validation", model, schema.__name__)
                conversation += [
                    Message("assistant", reply.text or "(empty)"),
                    Message("user", reprompt_text(str(exc))),
                ]
                reply = self._complete_text(
                    system_blocks, conversation, model, max_tokens, json_schema, meter, numbers
                )
                spent.append(reply)
                attempt += 1
            else:
                return self._summed(reply, spent).model_copy(update={"parsed": parsed})

    def _complete_text(
        self,
        system_blocks: list[SystemBlock],
        messages: list[Message],
        model: str,
        max_tokens: int,
        json_schema: dict[str, Any] | None,
        meter: RequestMeter | None,
        numbers: Iterator[int],
    ) -> Reply:
        """One reply, continued once if the output limit cut it off."""
        first = self._request(next(numbers), system_blocks, messages, model, max_tokens,
                              json_schema, meter)
        if first.stop_reason != "max_tokens":
            return first
        log.info("continuing a reply from %s truncated at %d output tokens", model, max_tokens)
        # The continuation is a new user turn (not an assistant prefill) because some models and
        # OpenAI-compatible servers refuse a conversation that ends with an assistant turn.
        partial = Message("assistant", first.text or "(no text yet)")  # empty turns are refused
        follow_up = [*messages, partial, Message("user", CONTINUE_PROMPT)]
        second = self._request(next(numbers), system_blocks, follow_up, model, max_tokens,
                               json_schema, meter)
        merged = self._summed(second, [first, second])
        return merged.model_copy(
            update={
                "text": first.text + second.text,
                "truncated": second.stop_reason == "max_tokens",
            }
        )

    def _request(
        self,
        index: int,
        system_blocks: list[SystemBlock],
        messages: list[Message],
        model: str,
        max_tokens: int,
        json_schema: dict[str, Any] | None,
        meter: RequestMeter | None,
    ) -> Reply:
        """One metered HTTP request: reserved at its bound, or answered from what was paid for."""
        if meter is None:
            return self._call(system_blocks, messages, model, max_tokens, json_schema)
        texts = [b.text for b in system_blocks] + [m.content for m in messages]
        if json_schema is not None:  # sent natively, or in words on servers that refuse that
            texts.append(schema_instruction(json_schema))
        bound = input_bound(texts)
        paid = meter.before(index, model, bound, max_tokens)
        if paid is not None:
            return paid
        try:
            reply = self._call(system_blocks, messages, model, max_tokens, json_schema)
        except BaseException:
            meter.failed(index)
            raise
        return meter.after(index, reply, bound, max_tokens)

    def _summed(self, last: Reply, replies: list[Reply]) -> Reply:
        """The last reply with usage, cost and duration of all the requests it took."""
        usage = sum((r.usage for r in replies), Usage())
        duration = sum(r.duration_s for r in replies)
        # Cost from the summed usage, so rounding to the micro-dollar happens once.
        cost = self.prices.cost(last.model, usage)
        return last.model_copy(update={"usage": usage, "cost_usd": cost, "duration_s": duration})


def schema_instruction(json_schema: dict[str, Any]) -> str:
    """The instruction appended to the last user turn when a structured reply is wanted."""
    return (
        "Reply with only one JSON object (no prose, no code fences) that validates against "
        "this JSON schema:\n" + json.dumps(json_schema, separators=(",", ":"))
    )


def reprompt_text(error: str) -> str:
    """The user turn that sends a failed validation back to the model."""
    return (
        f"Your reply was not valid: {error}\n"
        "Reply again with only the corrected JSON object, following the schema exactly."
    )


def redact(text: str, secret: str) -> str:
    """Error text from a server, safe to show: the key and key-shaped strings masked, cut short."""
    if secret:
        text = text.replace(secret, "***")
    text = _SECRET_SHAPES.sub("***", text)
    # Masked before cutting, so a cut can never leave part of a key behind.
    return text if len(text) <= MAX_DETAIL_CHARS else text[:MAX_DETAIL_CHARS] + "…"
