"""What LLM usage costs: built-in prices, version suffixes, unpriced models, YAML overrides."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mission_control.errors import ConfigError
from mission_control.llm import Cost, Usage, load_price_table

MILLION = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)


def test_a_priced_model_costs_input_and_output_at_their_rates() -> None:
    table = load_price_table(None)

    cost = table.cost(
        Usage(prompt_tokens=5120, completion_tokens=410),
        provider="gemini",
        model="gemini-2.0-flash",
    )

    assert cost == Cost(usd=Decimal("0.000676"), priced=True)  # 5120 * 0.10/M + 410 * 0.40/M


@pytest.mark.parametrize(
    ("provider", "model", "usd"),
    [
        ("anthropic", "claude-sonnet-4-5-20250929", "18"),
        ("anthropic", "claude-opus-4-20250514", "90"),
        ("anthropic", "claude-opus-4-6", "30"),
        ("gemini", "gemini-2.0-flash-001", "0.50"),
        ("gemini", "models/gemini-2.5-flash", "2.80"),
        ("gemini", "gemini-2.5-flash-lite", "0.50"),
        ("gemini", "gemini-2.5-flash-preview-09-2025", "2.80"),
        ("gemini", "gemini-3-pro-preview", "14"),
    ],
)
def test_versions_and_dates_of_a_model_share_its_price(provider: str, model: str, usd: str) -> None:
    cost = load_price_table(None).cost(MILLION, provider=provider, model=model)

    assert cost == Cost(usd=Decimal(usd), priced=True)


@pytest.mark.parametrize(
    "model",
    [
        "claude-opus-4-7",
        "claude-sonnet-5-5",
        "gemini-2.5-flash-image",
        "gemini-2.5-flash-preview-tts",  # not a version of gemini-2.5-flash: other prices
        "gemini-2.0-flash-exp-image-generation",
        "gemini-2.5-flash-preview-native-audio-dialog",
    ],
)
def test_an_unknown_paid_model_costs_nothing_but_is_flagged_unpriced(model: str) -> None:
    provider = "anthropic" if model.startswith("claude") else "gemini"

    cost = load_price_table(None).cost(MILLION, provider=provider, model=model)

    assert cost == Cost(usd=Decimal(0), priced=False)


def test_local_models_are_free() -> None:
    cost = load_price_table(None).cost(MILLION, provider="ollama", model="llama3.1:8b")

    assert cost == Cost(usd=Decimal(0), priced=True)


def test_a_prices_file_overrides_and_adds_entries(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "gemini:\n"
        "  gemini-2.0-flash: {input: 0.15, output: '0.60'}\n"
        "anthropic:\n"
        "  claude-opus-4-7: {input: 5, output: 25}\n"
        "ollama:\n"
        "  llama3.1: {input: '0.01', output: '0.01'}\n"
    )
    table = load_price_table(prices)

    assert table.cost(MILLION, provider="gemini", model="gemini-2.0-flash").usd == Decimal("0.75")
    assert table.cost(MILLION, provider="anthropic", model="claude-opus-4-7").usd == Decimal(30)
    assert table.cost(MILLION, provider="ollama", model="llama3.1").usd == Decimal("0.02")
    assert table.cost(MILLION, provider="gemini", model="gemini-2.5-pro").usd == Decimal("11.25")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("gemini: [", "not valid YAML"),
        ("gemini:\n  x: {input: -1, output: 1}\n", "gemini.x.input"),
        ("openai:\n  gpt: {input: 1, output: 1}\n", "openai"),
        ("gemini:\n  x: {input: 1}\n", "gemini.x.output"),
        ("- gemini\n", "the top level: Input should be a valid dictionary"),
        ("gemini:\n  x: {input: 1, output: 1}\n  x: {input: 2, output: 2}\n", "duplicate key 'x'"),
    ],
)
def test_a_bad_prices_file_is_a_config_error_naming_the_variable(
    tmp_path: Path, content: str, problem: str
) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(content)

    with pytest.raises(ConfigError, match=rf"^MC_PRICES_FILE: .*{problem}"):
        load_price_table(prices)


def test_a_missing_prices_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MC_PRICES_FILE: cannot read"):
        load_price_table(tmp_path / "absent.yaml")
