"""The one price table: model tier to model id, and USD per million tokens for each token kind."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation

from marketing_team.config.settings import Settings
from marketing_team.domain.errors import ConfigurationError
from marketing_team.domain.values import Tier
from marketing_team.llm.protocol import Usage

# The date the default prices below were read from the published pricing page.
PRICES_READ_ON = "2026-11-25"

MICRO_DOLLAR = Decimal("0.000001")
_PER_MTOK = Decimal(1_000_000)
# Anthropic prompt caching (5-minute TTL): writes cost 1.25x input, reads 0.1x input.
CACHE_WRITE_FACTOR = Decimal("1.25")
CACHE_READ_FACTOR = Decimal("0.1")

TIERS: tuple[Tier, ...] = ("opus", "sonnet", "haiku")


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens for one model, per token kind."""

    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal

    @classmethod
    def from_base(cls, input_usd: Decimal, output_usd: Decimal) -> ModelPrice:
        """A price whose cache rates follow the published multipliers of the input rate."""
        return cls(
            input=input_usd,
            output=output_usd,
            cache_write=input_usd * CACHE_WRITE_FACTOR,
            cache_read=input_usd * CACHE_READ_FACTOR,
        )


DEFAULT_MODELS: Mapping[Tier, str] = {
    "opus": "claude-opus-5",
    "sonnet": "claude-sonnet-5",
    "haiku": "claude-haiku-4-5",
}
DEFAULT_PRICES: Mapping[str, ModelPrice] = {
    "claude-opus-5": ModelPrice.from_base(Decimal("5"), Decimal("25")),
    "claude-sonnet-5": ModelPrice.from_base(Decimal("2"), Decimal("10")),
    "claude-haiku-4-5": ModelPrice.from_base(Decimal("1"), Decimal("5")),
}


class PriceTable:
    """Tier to model id and model id to price; an unpriced model is a configuration error."""

    def __init__(
        self,
        models: Mapping[Tier, str],
        prices: Mapping[str, ModelPrice],
        read_on: str = PRICES_READ_ON,
    ) -> None:
        self._models = dict(models)
        self._prices = dict(prices)
        self.read_on = read_on
        for tier in TIERS:
            model = self.model_for(tier)
            if model not in self._prices:
                raise ConfigurationError(
                    f"model {model!r} (tier {tier}, MT_MODEL_{tier.upper()}) has no price; "
                    f"add it to MT_PRICES"
                )

    @classmethod
    def from_settings(cls, settings: Settings) -> PriceTable:
        """The default table with the MT_MODEL_* and MT_PRICES overrides applied."""
        prices = dict(DEFAULT_PRICES)
        models = dict(DEFAULT_MODELS)
        # A local OpenAI-compatible server runs one model for every tier; its price is a setting
        # (default 0: the user's own hardware) and local servers have no prompt-cache pricing.
        if settings.llm_provider == "openai":
            prices[settings.openai_model] = ModelPrice(
                input=settings.openai_price_in,
                output=settings.openai_price_out,
                cache_write=settings.openai_price_in,
                cache_read=settings.openai_price_in,
            )
            models = {tier: settings.openai_model for tier in TIERS}
        overrides: Mapping[Tier, str | None] = {
            "opus": settings.model_opus,
            "sonnet": settings.model_sonnet,
            "haiku": settings.model_haiku,
        }
        for tier, model in overrides.items():
            if model:
                models[tier] = model
        if settings.prices_json:
            prices.update(parse_prices(settings.prices_json))
        return cls(models, prices)

    def model_for(self, tier: Tier) -> str:
        """The model id that serves this tier."""
        try:
            return self._models[tier]
        except KeyError:
            raise ConfigurationError(f"no model configured for tier {tier!r}") from None

    def price(self, model: str) -> ModelPrice:
        """The model's price; a model missing from the table is never billed at $0."""
        try:
            return self._prices[model]
        except KeyError:
            known = ", ".join(sorted(self._prices))
            raise ConfigurationError(
                f"model {model!r} is not in the price table (prices read {self.read_on}; "
                f"known: {known}); add it to MT_PRICES"
            ) from None

    def cost(self, model: str, usage: Usage) -> Decimal:
        """Exact USD cost of the usage, rounded half-up to the micro-dollar."""
        p = self.price(model)
        total = (
            usage.input_tokens * p.input
            + usage.output_tokens * p.output
            + usage.cache_write_tokens * p.cache_write
            + usage.cache_read_tokens * p.cache_read
        ) / _PER_MTOK
        return total.quantize(MICRO_DOLLAR, rounding=ROUND_HALF_UP)

    def worst_case_cost(self, model: str, input_tokens: int, max_output_tokens: int) -> Decimal:
        """The most a call can cost: all input billed at the dearest input rate, full output."""
        p = self.price(model)
        dearest_input = max(p.input, p.cache_write, p.cache_read)
        total = (input_tokens * dearest_input + max_output_tokens * p.output) / _PER_MTOK
        return total.quantize(MICRO_DOLLAR, rounding=ROUND_UP)


def parse_prices(text: str) -> dict[str, ModelPrice]:
    """Parse MT_PRICES: {"model": {"input": .., "output": .., "cache_write": .., "cache_read": ..}}."""
    try:
        raw = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"invalid setting MT_PRICES: not JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ConfigurationError("invalid setting MT_PRICES: must be a JSON object")
    return {str(model): _price_entry(str(model), entry) for model, entry in raw.items()}


def _price_entry(model: str, entry: object) -> ModelPrice:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"invalid setting MT_PRICES: {model!r} must map to an object")
    unknown = set(entry) - {"input", "output", "cache_write", "cache_read"}
    if unknown:
        raise ConfigurationError(
            f"invalid setting MT_PRICES: {model!r} has unknown keys {sorted(unknown)}"
        )
    for required in ("input", "output"):
        if required not in entry:
            raise ConfigurationError(f"invalid setting MT_PRICES: {model!r} needs {required!r}")
    values = {key: _usd(model, key, value) for key, value in entry.items()}
    base = ModelPrice.from_base(values["input"], values["output"])
    return ModelPrice(
        input=base.input,
        output=base.output,
        cache_write=values.get("cache_write", base.cache_write),
        cache_read=values.get("cache_read", base.cache_read),
    )


def _usd(model: str, key: str, value: object) -> Decimal:
    # JSON numbers arrive as Decimal (exact); strings are accepted for the same reason.
    if isinstance(value, bool) or not isinstance(value, Decimal | str):
        raise ConfigurationError(f"invalid setting MT_PRICES: {model}.{key} must be a number")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ConfigurationError(
            f"invalid setting MT_PRICES: {model}.{key} must be a number"
        ) from None
    if not amount.is_finite() or amount < 0:
        raise ConfigurationError(f"invalid setting MT_PRICES: {model}.{key} must be >= 0")
    return amount
