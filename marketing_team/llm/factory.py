"""Choose the provider and model ids from settings (the one place that knows the providers)."""

from __future__ import annotations

import importlib

from marketing_team.config.settings import Settings
from marketing_team.domain.values import Tier
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.llm.offline import OfflineProvider
from marketing_team.llm.openai_provider import OpenAIProvider
from marketing_team.llm.pricing import PriceTable
from marketing_team.llm.protocol import LLM


def make_llm(settings: Settings) -> LLM:
    """The configured provider: anthropic when a key is set, else offline, unless chosen explicitly.

    Provider modules import their SDK only when constructed, so commands that never call a model
    never pay for importing one.
    """
    provider = settings.llm_provider
    if provider == "anthropic":
        return AnthropicProvider(settings)
    if provider == "openai":
        return OpenAIProvider(settings)
    return OfflineProvider()


def preload_sdk(settings: Settings) -> None:
    """Import the configured provider's SDK now.

    A prefork worker's parent calls this once before forking, so each pool child (and each child
    started again after one was killed) does not pay ~1.3 s importing it on its first call.
    """
    try:
        if settings.llm_provider == "anthropic":
            importlib.import_module("anthropic")
        elif settings.llm_provider == "openai":
            importlib.import_module("openai")
    except ImportError:
        pass  # the provider names the missing extra when it is built, with the fix


def model_for_tier(settings: Settings, tier: Tier, provider: str | None = None) -> str:
    """The model id a tier maps to for the provider in use (default: the configured one)."""
    provider = provider or settings.llm_provider
    if provider == "offline":
        return "offline"
    if provider == "openai":
        return settings.openai_model
    return PriceTable.from_settings(settings).model_for(tier)
