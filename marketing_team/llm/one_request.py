"""A call answered in one request, told to the meter like a provider's (for fakes and benchmarks)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from marketing_team.llm.bounds import input_bound
from marketing_team.llm.protocol import Message, Reply, RequestMeter, SystemBlock
from marketing_team.llm.structured import json_schema_text, parse_structured


def metered_once(meter: RequestMeter | None, system_blocks: list[SystemBlock],
                 messages: list[Message], model: str, max_tokens: int,
                 schema: type[BaseModel] | None, answer: Callable[[], Reply]) -> Reply:
    """answer() as request 0 of the call: reserved and settled by the meter, or replayed from it."""
    if meter is None:
        return answer()
    texts = [b.text for b in system_blocks] + [m.content for m in messages]
    bound = input_bound(texts + ([json_schema_text(schema)] if schema else []))
    paid = meter.before(0, model, bound, max_tokens)
    if paid is None:
        try:
            reply = answer()
        except BaseException:
            meter.failed(0)
            raise
        paid = meter.after(0, reply, bound, max_tokens)
    if schema is not None and not isinstance(paid.parsed, schema):
        paid = paid.model_copy(update={"parsed": parse_structured(paid.text, schema)})
    return paid
