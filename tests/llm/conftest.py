"""Fixtures for the LLM layer: a running Anthropic fake and settings pointing the real SDK at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from marketing_team.config.settings import Settings, load_settings
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.testing.fake_anthropic import FakeAnthropic

API_KEY = "sk-ant-test-NEVER-SHOW-0123456789abcdef"

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def api_key() -> str:
    """The key the tests hand the provider; it must never show up in logs or errors."""
    return API_KEY


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    """A fake Messages API on a free loopback port; unscripted requests fail loudly."""
    with FakeAnthropic(default=None) as server:
        yield server


@pytest.fixture
def make_settings(fake: FakeAnthropic) -> SettingsFactory:
    """Settings aimed at the fake: small retries and timeouts so failures show up fast."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "anthropic_api_key": API_KEY,
            "anthropic_base_url": fake.url,
            "llm_timeout_s": 10.0,
            "llm_max_retries": 2,
        }
        values.update(overrides)
        return load_settings(**values)

    return build


@pytest.fixture
def provider(make_settings: SettingsFactory) -> AnthropicProvider:
    """The real anthropic provider talking HTTP to the fake."""
    return AnthropicProvider(make_settings())
