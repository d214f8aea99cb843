"""What LLM requests cost: a price table in USD per million tokens, exact Decimal arithmetic.

Built-in prices are the providers' published standard rates (prompts up to 200k tokens, no
batch or cache discounts) at the time of writing; a YAML file (``MC_PRICES_FILE``) overrides
or adds entries::

    # USD per million tokens
    gemini:
      gemini-2.5-flash: {input: "0.30", output: "2.50"}
    anthropic:
      claude-sonnet-4-5: {input: "3", output: "15"}

A model matches an entry by its exact name or the name plus a version or date suffix
(``claude-sonnet-4-5-20250929``, ``gemini-2.0-flash-001``, ``gemini-3-pro-preview``,
``gemini-2.5-flash-preview-09-2025``) — nothing looser: ``gemini-2.5-flash-preview-tts`` or
``gemini-2.0-flash-exp-image-generation`` are other models with other prices, not versions.
Ollama models run locally and cost 0 unless the file prices them. A paid model missing from
the table costs 0 and is flagged ``priced=False`` so the gap is visible rather than silent.
Pure apart from :func:`load_price_table` reading the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mission_control.errors import ConfigError
from mission_control.llm.messages import Usage

__all__ = [
    "BUILTIN_PRICES",
    "Cost",
    "Price",
    "PriceTable",
    "UniqueKeyLoader",
    "find_model",
    "load_overrides",
    "load_price_table",
]

T = TypeVar("T")
PER_TOKENS = Decimal(1_000_000)
#: Version suffixes: -001, -20250929, -latest, -preview, -exp, -preview-09-2025, -exp-02-05.
_SUFFIX = re.compile(r"\d{3}|\d{8}|latest|(?:preview|exp)(?:-\d{2}-\d{2}|-\d{2}-\d{4}|-\d{4})?")
FREE_PROVIDERS = frozenset({"ollama"})


class Price(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)


@dataclass(frozen=True, kw_only=True)
class Cost:
    """The cost of some usage; ``priced`` is False when the model has no price."""

    usd: Decimal
    priced: bool


def _p(input_: str, output: str) -> Price:
    return Price(input=Decimal(input_), output=Decimal(output))


BUILTIN_PRICES: Mapping[str, Mapping[str, Price]] = {
    "gemini": {
        "gemini-3-pro": _p("2.00", "12.00"),
        "gemini-3-flash": _p("0.50", "3.00"),
        "gemini-2.5-pro": _p("1.25", "10.00"),
        "gemini-2.5-flash": _p("0.30", "2.50"),
        "gemini-2.5-flash-lite": _p("0.10", "0.40"),
        "gemini-2.0-flash": _p("0.10", "0.40"),
        "gemini-2.0-flash-lite": _p("0.075", "0.30"),
    },
    "anthropic": {
        "claude-opus-4-6": _p("5", "25"),
        "claude-sonnet-4-6": _p("3", "15"),
        "claude-opus-4-5": _p("5", "25"),
        "claude-sonnet-4-5": _p("3", "15"),
        "claude-haiku-4-5": _p("1", "5"),
        "claude-opus-4-1": _p("15", "75"),
        "claude-opus-4": _p("15", "75"),
        "claude-sonnet-4": _p("3", "15"),
        "claude-3-7-sonnet": _p("3", "15"),
        "claude-3-5-haiku": _p("0.80", "4"),
        "claude-3-haiku": _p("0.25", "1.25"),
    },
}


def _normalise(model: str) -> str:
    return model.strip().lower().removeprefix("models/")


def find_model(models: Mapping[str, T], model: str) -> T | None:
    """The entry of ``model`` in ``models`` (normalised names): exact, or name plus a version."""
    name = _normalise(model)
    if name in models:
        return models[name]
    for key, entry in sorted(models.items(), key=lambda item: -len(item[0])):
        rest = name.removeprefix(key + "-")
        if rest != name and _SUFFIX.fullmatch(rest):
            return entry
    return None


class PriceTable:
    """Prices per provider and model, with the matching rules described above."""

    def __init__(self, prices: Mapping[str, Mapping[str, Price]]) -> None:
        self._prices = {
            provider: {_normalise(model): price for model, price in models.items()}
            for provider, models in prices.items()
        }

    def price(self, *, provider: str, model: str) -> Price | None:
        """The price of ``model``, or None if the table has none."""
        return find_model(self._prices.get(provider, {}), model)

    def cost(self, usage: Usage, *, provider: str, model: str) -> Cost:
        """What ``usage`` of ``model`` costs."""
        price = self.price(provider=provider, model=model)
        if price is None:
            return Cost(usd=Decimal(0), priced=provider in FREE_PROVIDERS)
        usd = (
            usage.prompt_tokens * price.input + usage.completion_tokens * price.output
        ) / PER_TOKENS
        return Cost(usd=usd, priced=True)


class _PriceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ollama: dict[str, Price] = Field(default_factory=dict)
    gemini: dict[str, Price] = Field(default_factory=dict)
    anthropic: dict[str, Price] = Field(default_factory=dict)


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice (YAML would silently keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


FileT = TypeVar("FileT", bound=BaseModel)


def load_overrides(
    path: Path, *, setting: str, schema: type[FileT], builtin: Mapping[str, Mapping[str, T]]
) -> dict[str, dict[str, T]]:
    """``builtin`` overlaid per provider with the YAML file at ``path``, validated by ``schema``.

    Every problem is one :class:`ConfigError` line naming ``setting``, the file and the field.
    """
    merged = {provider: dict(models) for provider, models in builtin.items()}
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader) or {}
        overrides = schema.model_validate(data)
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{setting}: {path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the top level"
        raise ConfigError(f"{setting}: {path}: {where}: {first['msg']}") from None
    for provider in type(overrides).model_fields:
        merged.setdefault(provider, {}).update(getattr(overrides, provider))
    return merged


def load_price_table(path: Path | None) -> PriceTable:
    """The built-in prices overlaid with the YAML file at ``path`` (``MC_PRICES_FILE``)."""
    if path is None:
        return PriceTable({provider: dict(models) for provider, models in BUILTIN_PRICES.items()})
    return PriceTable(
        load_overrides(path, setting="MC_PRICES_FILE", schema=_PriceFile, builtin=BUILTIN_PRICES)
    )
