"""The anthropic provider on the official SDK: cacheable system blocks, SDK retries, typed errors."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NoReturn

from marketing_team.config.settings import Settings

if TYPE_CHECKING:  # the SDK itself is imported when a provider is built (~1.3 s, ~77 MiB)
    import anthropic
    from anthropic.types import MessageParam, OutputConfigParam, TextBlockParam
from marketing_team.domain.errors import (
    ConfigurationError,
    LLMError,
    LLMTimeoutError,
    LLMTransientError,
)
from marketing_team.llm.base import BaseProvider, redact, schema_instruction
from marketing_team.llm.endpoint import describe_endpoint, root_cause
from marketing_team.llm.pricing import PriceTable
from marketing_team.llm.protocol import Message, Reply, SystemBlock, Usage

# The API accepts at most four cache breakpoints per request; the later ones matter most
# because a breakpoint caches the whole prefix before it.
MAX_CACHE_BREAKPOINTS = 4
DEFAULT_BASE_URL = "https://api.anthropic.com"  # the SDK's own default when none is set
_TRANSIENT_TYPES = {"overloaded_error", "rate_limit_error", "api_error", "timeout_error"}
# (base URL, model) pairs whose server refused native structured output once (a proxy, an older
# gateway, a model without it): asked with the schema in words from then on, for this process.
_REFUSES_NATIVE: set[tuple[str, str]] = set()


class AnthropicProvider(BaseProvider):
    """Claude via the Messages API; the SDK's own bounded retry is the only HTTP retry layer."""

    name = "anthropic"

    def __init__(self, settings: Settings, prices: PriceTable | None = None) -> None:
        super().__init__(prices or PriceTable.from_settings(settings))
        if settings.anthropic_api_key is None:
            raise ConfigurationError("the anthropic provider needs ANTHROPIC_API_KEY")
        self._secret = settings.anthropic_api_key.get_secret_value()
        self._timeout_s = settings.llm_timeout_s
        self._max_retries = settings.llm_max_retries
        self._base_url = settings.anthropic_base_url or "default"
        # Named in every connection failure, so "Connection error." never stands alone.
        self.endpoint = describe_endpoint(settings.anthropic_base_url or DEFAULT_BASE_URL,
                                          "ANTHROPIC_BASE_URL", settings.anthropic_base_url is not None)
        import anthropic  # only processes that call a model pay for importing the SDK

        self._sdk = anthropic
        self._client = anthropic.Anthropic(
            api_key=self._secret,
            base_url=settings.anthropic_base_url,
            timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
        )

    def _call(
        self,
        system_blocks: list[SystemBlock],
        messages: list[Message],
        model: str,
        max_tokens: int,
        json_schema: dict[str, Any] | None,
    ) -> Reply:
        """One Messages API request (the SDK may retry it); SDK errors become ours here.

        A schema goes as native structured output (`output_config.format`); a server that
        refuses the parameter is remembered (per base URL) and asked with the schema in words.
        """
        started = time.monotonic()
        where = (self._base_url, model)
        native = json_schema is not None and where not in _REFUSES_NATIVE
        try:
            message = self._create(system_blocks, messages, model, max_tokens, json_schema, native)
        except self._sdk.BadRequestError as exc:
            if not native:
                self._raise_translated(exc, model)
            # Servers word the refusal differently: any 400 to a native request is asked again
            # in words (a 400 is not billed); when that works, the server is remembered.
            try:
                message = self._create(system_blocks, messages, model, max_tokens, json_schema, False)
            except self._sdk.AnthropicError as again:
                self._raise_translated(again, model)
            _REFUSES_NATIVE.add(where)
        except self._sdk.AnthropicError as exc:
            self._raise_translated(exc, model)
        text = "".join(block.text for block in message.content if block.type == "text")
        raw = getattr(message, "usage", None)
        usage = Usage(
            input_tokens=getattr(raw, "input_tokens", 0) or 0,
            output_tokens=getattr(raw, "output_tokens", 0) or 0,
            cache_write_tokens=getattr(raw, "cache_creation_input_tokens", 0) or 0,
            cache_read_tokens=getattr(raw, "cache_read_input_tokens", 0) or 0,
        )
        return Reply(
            text=text,
            stop_reason=str(message.stop_reason or "end_turn"),
            usage=usage,
            cost_usd=self.prices.cost(model, usage),
            model=model,
            duration_s=time.monotonic() - started,
            request_id=str(getattr(message, "id", "") or ""),
            # A report without either count cannot be billed as reported (it would bill less).
            usage_missing=raw is None or getattr(raw, "input_tokens", None) is None
            or getattr(raw, "output_tokens", None) is None,
        )

    def _create(self, system_blocks: list[SystemBlock], messages: list[Message], model: str,
                max_tokens: int, json_schema: dict[str, Any] | None, native: bool) -> Any:
        if native and json_schema is not None:
            config: OutputConfigParam = {"format": {
                "type": "json_schema", "schema": self._sdk.transform_schema(json_schema)}}
            return self._client.messages.create(
                model=model, max_tokens=max_tokens, system=system_param(system_blocks),
                messages=messages_param(messages, None), output_config=config)
        return self._client.messages.create(
            model=model, max_tokens=max_tokens, system=system_param(system_blocks),
            messages=messages_param(messages, json_schema))

    def _raise_translated(self, exc: anthropic.AnthropicError, model: str) -> NoReturn:
        """Raise the one typed error for an SDK failure, its text stripped of secrets."""
        sdk = self._sdk
        retries = f"after {self._max_retries} SDK retries"
        # `from None`: the SDK exception carries the request, whose headers hold the key.
        if isinstance(exc, sdk.APITimeoutError):
            raise LLMTimeoutError(
                f"anthropic {model}: no answer from {self.endpoint} within {self._timeout_s:g} s "
                f"({retries})"
            ) from None
        if isinstance(exc, sdk.APIConnectionError):
            detail = self._scrub(root_cause(exc))
            raise LLMTransientError(
                f"anthropic {model}: cannot connect to {self.endpoint}: {detail} ({retries})"
            ) from None
        if isinstance(exc, sdk.APIStatusError):
            kind = exc.type or "error"
            detail = self._scrub(exc.api_message or exc.message)
            text = f"anthropic {model}: HTTP {exc.status_code} {kind}: {detail}"
            if exc.request_id:
                text += f" (request-id {exc.request_id})"
            if (
                isinstance(exc, sdk.RateLimitError | sdk.InternalServerError)
                or exc.status_code in (408, 409, 429)
                or exc.status_code >= 500
                or kind in _TRANSIENT_TYPES
            ):
                raise LLMTransientError(f"{text} ({retries})") from None
            raise LLMError(text) from None
        raise LLMError(
            f"anthropic {model}: {type(exc).__name__}: {self._scrub(str(exc))}"
        ) from None

    def _scrub(self, text: str) -> str:
        return redact(text, self._secret)


def system_param(blocks: list[SystemBlock]) -> list[TextBlockParam]:
    """System blocks as text blocks; the last cacheable ones carry `cache_control`."""
    # The API rejects empty text blocks; an empty product context is simply left out.
    present = [block for block in blocks if block.text.strip()]
    cacheable = [i for i, block in enumerate(present) if block.cache][-MAX_CACHE_BREAKPOINTS:]
    params: list[TextBlockParam] = []
    for i, block in enumerate(present):
        param: TextBlockParam = {"type": "text", "text": block.text}
        if i in cacheable:
            param["cache_control"] = {"type": "ephemeral"}
        params.append(param)
    return params


def messages_param(
    messages: list[Message], json_schema: dict[str, Any] | None
) -> list[MessageParam]:
    """Conversation turns; with a schema (the fallback for servers refusing native structured
    output), the instruction joins the last user turn. Our own validation with bounded
    re-prompts is the guarantee either way."""
    params: list[MessageParam] = [_turn(m.role, m.content) for m in messages]
    if json_schema is not None:
        instruction = schema_instruction(json_schema)
        for param in reversed(params):
            if param["role"] == "user":
                param["content"] = f"{param['content']}\n\n{instruction}"
                break
        else:
            params.append(_turn("user", instruction))
    return params


def _turn(role: str, content: str) -> MessageParam:
    if role == "assistant":
        return {"role": "assistant", "content": content}
    return {"role": "user", "content": content}
