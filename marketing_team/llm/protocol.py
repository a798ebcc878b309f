"""The one LLM protocol every provider implements, and the value types it speaks."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from marketing_team.llm.structured import parse_structured

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class SystemBlock:
    """A system prompt block; cacheable ones are marked for prompt caching."""

    text: str
    cache: bool = True


@dataclass(frozen=True)
class Message:
    """One conversation turn."""

    role: Literal["user", "assistant"]
    content: str


class Usage(BaseModel):
    """Token counts the server reported for one reply (summed over continuations)."""

    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
        )


class Reply(BaseModel):
    """What a completion returns: text, why it stopped, usage and its exact cost."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    text: str
    stop_reason: str
    usage: Usage = Usage()
    cost_usd: Decimal = Decimal("0")
    model: str
    duration_s: float = 0.0
    truncated: bool = False
    # With a schema: the validated pydantic object (its class is the schema passed in).
    parsed: BaseModel | None = None
    # The provider's id of this reply (the Messages API's message id), and whether the server
    # left usage out: a reply without usage cannot be billed as reported.
    request_id: str = ""
    usage_missing: bool = False
    # The meter's own identity of this paid reply (the provider's id may be empty or repeated):
    # what the ledger settles it under, exactly once.
    billing_id: str = ""


class RequestMeter(Protocol):
    """What a provider tells the budget around each HTTP request of a call (in order, by index).

    Requests of one call are numbered 0, 1, … (continuations and re-prompts included); the same
    call made again (a redelivery) makes the same requests with the same numbers.
    """

    def before(self, index: int, model: str, input_bound: int, max_tokens: int) -> Reply | None:
        """Reserve the request's bound, or return the reply already paid for this request."""
        ...

    def after(self, index: int, reply: Reply, input_bound: int, max_tokens: int) -> Reply:
        """Settle the reply once (its usage checked against the bound); returns the reply to use."""
        ...

    def failed(self, index: int) -> None:
        """The request got no reply: give its reservation back."""
        ...


class LLM(Protocol):
    """Anything that completes a prompt: the real providers, the offline one and test fakes."""

    name: str

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

        With a meter, every HTTP request is announced to it before and after (budget, ledger).
        """
        ...


def parsed_as(reply: Reply, schema: type[M]) -> M:
    """The reply's validated object as `schema`; re-validates when a cache dropped the object."""
    if isinstance(reply.parsed, schema):
        return reply.parsed
    parsed = parse_structured(reply.text, schema)
    assert isinstance(parsed, schema)  # parse_structured validates against schema itself
    return parsed
