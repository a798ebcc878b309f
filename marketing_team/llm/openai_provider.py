"""The openai provider: any OpenAI-compatible server (Ollama, vLLM, llama.cpp) via the `openai` SDK."""

from __future__ import annotations

import time
from typing import Any, NoReturn

from marketing_team.config.settings import Settings
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

# The one spelling of the install, also the README's (tests/config/test_readme.py holds them equal):
# from the folder the package was installed from, as the README installs it; never a PyPI name.
EXTRA_INSTALL = "pip install '.[openai]'"
MISSING_EXTRA = (f"MT_LLM_PROVIDER=openai needs the openai extra: run {EXTRA_INSTALL} in the "
                 "marketing-team folder you installed from")
# OpenAI finish reasons in the protocol's (Anthropic) vocabulary.
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}

# Base URLs whose server refused `response_format` json_schema once: asked in words since.
_REFUSES_NATIVE: set[tuple[str, str]] = set()

class OpenAIProvider(BaseProvider):
    """Chat completions on a local or hosted OpenAI-compatible endpoint; cost from settings."""

    name = "openai"

    def __init__(self, settings: Settings, prices: PriceTable | None = None) -> None:
        super().__init__(prices or PriceTable.from_settings(settings))
        try:
            import openai  # the optional extra: imported only when this provider is chosen
        except ImportError:
            raise ConfigurationError(MISSING_EXTRA) from None
        self._openai: Any = openai
        key = settings.openai_api_key
        self._secret = key.get_secret_value() if key is not None else ""
        self._timeout_s = settings.llm_timeout_s
        self._max_retries = settings.llm_max_retries
        self._base_url = settings.openai_base_url or "default"
        # Named in every connection failure; the URL has a default, so say whether it was chosen.
        self.endpoint = describe_endpoint(settings.openai_base_url, "MT_OPENAI_BASE_URL",
                                          "openai_base_url" in settings.model_fields_set)
        # Local servers ignore the key, but the SDK refuses to start without one.
        self._client: Any = openai.OpenAI(
            api_key=self._secret or "not-needed",
            base_url=settings.openai_base_url,
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
        """One chat-completions request (the SDK may retry it); SDK errors become ours here.

        A schema goes as `response_format` json_schema; a server that refuses it is remembered
        (per base URL) and asked with the schema in words from then on.
        """
        started = time.monotonic()
        where = (self._base_url, model)
        native = json_schema is not None and where not in _REFUSES_NATIVE
        try:
            response = self._create(system_blocks, messages, model, max_tokens, json_schema, native)
        except self._openai.BadRequestError as exc:
            if not native:
                self._raise_translated(exc, model)
            try:  # any 400 to a native request is asked again in words; remembered when it works
                response = self._create(system_blocks, messages, model, max_tokens, json_schema, False)
            except self._openai.OpenAIError as again:
                self._raise_translated(again, model)
            _REFUSES_NATIVE.add(where)
        except self._openai.OpenAIError as exc:
            self._raise_translated(exc, model)
        choice = response.choices[0]
        raw = response.usage
        prompt = getattr(raw, "prompt_tokens", None)
        completion = getattr(raw, "completion_tokens", None)
        usage = Usage(input_tokens=prompt or 0, output_tokens=completion or 0)
        finish = str(choice.finish_reason or "stop")
        return Reply(
            text=choice.message.content or "",
            stop_reason=_STOP_REASONS.get(finish, finish),
            usage=usage,
            cost_usd=self.prices.cost(model, usage),
            model=model,
            duration_s=time.monotonic() - started,
            request_id=str(getattr(response, "id", "") or ""),
            usage_missing=prompt is None or completion is None,
        )

    def _create(self, system_blocks: list[SystemBlock], messages: list[Message], model: str,
                max_tokens: int, json_schema: dict[str, Any] | None, native: bool) -> Any:
        if native and json_schema is not None:
            return self._client.chat.completions.create(
                model=model, max_tokens=max_tokens,
                messages=chat_messages(system_blocks, messages, None),
                response_format={"type": "json_schema", "json_schema": {
                    "name": str(json_schema.get("title") or "reply"), "schema": json_schema}})
        return self._client.chat.completions.create(
            model=model, max_tokens=max_tokens,
            messages=chat_messages(system_blocks, messages, json_schema))

    def _raise_translated(self, exc: Exception, model: str) -> NoReturn:
        """Raise the one typed error for an SDK failure, its text stripped of the key."""
        sdk = self._openai
        retries = f"after {self._max_retries} SDK retries"
        if isinstance(exc, sdk.APITimeoutError):
            raise LLMTimeoutError(
                f"openai {model}: no answer from {self.endpoint} within {self._timeout_s:g} s "
                f"({retries})"
            ) from None
        if isinstance(exc, sdk.APIConnectionError):
            detail = self._scrub(root_cause(exc))
            raise LLMTransientError(
                f"openai {model}: cannot connect to {self.endpoint}: {detail} ({retries})"
            ) from None
        if isinstance(exc, sdk.APIStatusError):
            status = int(exc.status_code)
            text = f"openai {model}: HTTP {status}: {self._scrub(str(exc.message))}"
            if status in (408, 409, 429) or status >= 500:
                raise LLMTransientError(f"{text} ({retries})") from None
            raise LLMError(text) from None
        raise LLMError(f"openai {model}: {type(exc).__name__}: {self._scrub(str(exc))}") from None

    def _scrub(self, text: str) -> str:
        return redact(text, self._secret)


def chat_messages(
    system_blocks: list[SystemBlock], messages: list[Message], json_schema: dict[str, Any] | None
) -> list[dict[str, str]]:
    """One system message (these servers have no cache pricing) and the turns, schema last."""
    out: list[dict[str, str]] = []
    system = "\n\n".join(block.text for block in system_blocks)
    if system:
        out.append({"role": "system", "content": system})
    out += [{"role": m.role, "content": m.content} for m in messages]
    if json_schema is not None:
        instruction = schema_instruction(json_schema)
        users = [i for i, m in enumerate(out) if m["role"] == "user"]
        if users:
            out[users[-1]]["content"] += "\n\n" + instruction
        else:
            out.append({"role": "user", "content": instruction})
    return out
