"""Choose the provider and model ids from settings (the one place that knows the providers)."""

from __future__ import annotations

from marketing_team.llm.protocol import LLM, Tier
from marketing_team.settings import Settings


def make_llm(settings: Settings) -> LLM:
    """The configured provider: anthropic when a key is set, else offline, unless chosen explicitly."""
    provider = settings.llm_provider
    if provider == "anthropic":
        from marketing_team.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider(settings)
    if provider == "openai":
        from marketing_team.llm.openai_provider import OpenAIProvider

        return OpenAIProvider(settings)
    from marketing_team.llm.offline import OfflineProvider

    return OfflineProvider()


def model_for_tier(settings: Settings, tier: Tier, provider: str | None = None) -> str:
    """The model id a tier maps to for the provider in use (default: the configured one)."""
    provider = provider or settings.llm_provider
    if provider == "offline":
        return "offline"
    if provider == "openai":
        return settings.openai_model
    from marketing_team.llm.pricing import PriceTable

    return PriceTable.from_settings(settings).model_for(tier)
