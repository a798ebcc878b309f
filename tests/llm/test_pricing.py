"""The price table: tiers to models, exact micro-dollar costs, and no model billed at $0."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from marketing_team.config.settings import load_settings
from marketing_team.domain.errors import ConfigurationError
from marketing_team.llm.pricing import PRICES_READ_ON, ModelPrice, PriceTable
from marketing_team.llm.protocol import Usage


def test_price_table_defaults_map_tiers_to_current_models() -> None:
    table = PriceTable.from_settings(load_settings())

    assert table.model_for("opus") == "claude-opus-5"
    assert table.model_for("sonnet") == "claude-sonnet-5"
    assert table.model_for("haiku") == "claude-haiku-4-5"
    assert table.read_on == PRICES_READ_ON


def test_price_table_derives_cache_rates_from_the_input_rate() -> None:
    price = PriceTable.from_settings(load_settings()).price("claude-opus-5")

    assert price == ModelPrice(Decimal("5"), Decimal("25"), Decimal("6.25"), Decimal("0.5"))


def test_price_table_cost_is_exact_for_all_four_token_kinds() -> None:
    # Given sonnet at $2 in, $10 out, $2.50 cache write, $0.20 cache read per MTok
    table = PriceTable.from_settings(load_settings())
    usage = Usage(
        input_tokens=1234, output_tokens=567, cache_write_tokens=8901, cache_read_tokens=23456
    )

    cost = table.cost("claude-sonnet-5", usage)

    # 1234*2 + 567*10 + 8901*2.5 + 23456*0.2 = 2468 + 5670 + 22252.5 + 4691.2 = 35081.7 µ$
    assert cost == Decimal("0.035082")


def test_price_table_cost_rounds_half_a_micro_dollar_up() -> None:
    table = PriceTable.from_settings(load_settings())

    assert table.cost("claude-opus-5", Usage(cache_read_tokens=1)) == Decimal("0.000001")
    assert table.cost("claude-opus-5", Usage()) == Decimal("0.000000")


def test_price_table_refuses_a_model_it_does_not_know() -> None:
    table = PriceTable.from_settings(load_settings())

    with pytest.raises(ConfigurationError, match="claude-imaginary-9"):
        table.cost("claude-imaginary-9", Usage(input_tokens=1))


def test_price_table_refuses_a_tier_override_without_a_price_at_start() -> None:
    settings = load_settings(model_opus="claude-opus-5-5")

    with pytest.raises(ConfigurationError, match="MT_MODEL_OPUS"):
        PriceTable.from_settings(settings)


def test_price_table_takes_prices_for_new_models_from_mt_prices() -> None:
    prices = {"claude-opus-5-5": {"input": 6, "output": 30.5, "cache_read": "0.6"}}
    settings = load_settings(model_opus="claude-opus-5-5", prices_json=json.dumps(prices))

    table = PriceTable.from_settings(settings)

    assert table.model_for("opus") == "claude-opus-5-5"
    assert table.price("claude-opus-5-5") == ModelPrice(
        Decimal("6"), Decimal("30.5"), Decimal("7.50"), Decimal("0.6")
    )


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        '{"m": 3}',
        '{"m": {"input": 1}}',
        '{"m": {"input": -1, "output": 1}}',
        '{"m": {"input": 1, "output": 1, "discount": 1}}',
        '{"m": {"input": true, "output": 1}}',
    ],
)
def test_price_table_rejects_malformed_mt_prices_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="MT_PRICES"):
        PriceTable.from_settings(load_settings(prices_json=raw))


def test_price_table_worst_case_bills_all_input_as_cache_writes_and_full_output() -> None:
    table = PriceTable.from_settings(load_settings())

    # haiku: 10_000 * 1.25 + 8192 * 5 = 12_500 + 40_960 µ$
    assert table.worst_case_cost("claude-haiku-4-5", 10_000, 8192) == Decimal("0.053460")


def test_price_table_prices_the_openai_model_from_settings() -> None:
    settings = load_settings(
        llm_provider_choice="openai",
        openai_model="qwen3:8b",
        openai_price_in=Decimal("0.1"),
        openai_price_out=Decimal("0.4"),
    )

    table = PriceTable.from_settings(settings)

    assert table.model_for("sonnet") == "qwen3:8b"
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000)
    assert table.cost("qwen3:8b", usage) == Decimal("0.300000")


def test_price_table_openai_model_defaults_to_free() -> None:
    table = PriceTable.from_settings(load_settings(llm_provider_choice="openai"))

    cost = table.cost(table.model_for("opus"), Usage(input_tokens=10**6, output_tokens=10**6))

    assert cost == Decimal("0")
