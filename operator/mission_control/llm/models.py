"""What a model can do: its context window and whether it calls tools.

For Gemini and Anthropic a small built-in table of known models answers; a YAML file
(``MC_MODELS_FILE``) overrides or adds entries, the way ``MC_PRICES_FILE`` does for prices::

    gemini:
      gemini-2.0-flash: {contextWindow: 1048576, tools: true}
    anthropic:
      claude-sonnet-4-5: {contextWindow: 200000}
    ollama:
      llama3.1: {contextWindow: 8192}   # else what the server reports (see catalog)

Names match as prices do (exact, or the name plus a version or date suffix). Ollama models
are described by the server itself (:mod:`mission_control.llm.catalog`); an Ollama entry here
only overrides the context window. Pure apart from :func:`load_model_table` reading the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mission_control.llm.pricing import find_model, load_overrides

__all__ = ["BUILTIN_MODELS", "ModelInfo", "ModelSpec", "ModelTable", "load_model_table"]


class ModelSpec(BaseModel):
    """One entry of the table: the context window in tokens, and tool support."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    context_window: int | None = Field(default=None, ge=256, alias="contextWindow")
    tools: bool = True
    #: Gemini 3 models refuse function calls of the current turn without their thought
    #: signature, so a conversation whose calls another model made cannot continue there.
    thought_signatures: bool = Field(default=False, alias="thoughtSignatures")


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """What is known of one model; ``None`` means unknown (nothing is judged on it)."""

    provider: str
    model: str
    #: False only when the provider says the model is absent (Ollama: not pulled).
    present: bool | None = None
    tools: bool | None = None
    context_window: int | None = None
    thought_signatures: bool = False


_MILLION = 1_048_576
_CLAUDE = ModelSpec(context_window=200_000)
BUILTIN_MODELS: Mapping[str, Mapping[str, ModelSpec]] = {
    "gemini": {
        "gemini-3-pro": ModelSpec(context_window=_MILLION, thought_signatures=True),
        "gemini-3-flash": ModelSpec(context_window=_MILLION, thought_signatures=True),
        "gemini-2.5-pro": ModelSpec(context_window=_MILLION),
        "gemini-2.5-flash": ModelSpec(context_window=_MILLION),
        "gemini-2.5-flash-lite": ModelSpec(context_window=_MILLION),
        "gemini-2.0-flash": ModelSpec(context_window=_MILLION),
        "gemini-2.0-flash-lite": ModelSpec(context_window=_MILLION),
    },
    "anthropic": dict.fromkeys(
        (
            "claude-opus-4-6",
            "claude-sonnet-4-6",
            "claude-opus-4-5",
            "claude-sonnet-4-5",
            "claude-haiku-4-5",
            "claude-opus-4-1",
            "claude-opus-4",
            "claude-sonnet-4",
            "claude-3-7-sonnet",
            "claude-3-5-haiku",
            "claude-3-haiku",
        ),
        _CLAUDE,
    ),
}


class ModelTable:
    """Known models per provider."""

    def __init__(self, models: Mapping[str, Mapping[str, ModelSpec]]) -> None:
        self._models = {
            provider: {name.strip().lower(): spec for name, spec in entries.items()}
            for provider, entries in models.items()
        }

    def spec(self, *, provider: str, model: str) -> ModelSpec | None:
        """The entry of ``model``, or None when the table does not know it."""
        return find_model(self._models.get(provider, {}), model)

    def info(self, *, provider: str, model: str) -> ModelInfo:
        """What the table says of ``model`` (all unknown when it has no entry)."""
        spec = self.spec(provider=provider, model=model)
        if spec is None:
            return ModelInfo(provider=provider, model=model)
        return ModelInfo(
            provider=provider,
            model=model,
            tools=spec.tools,
            context_window=spec.context_window,
            thought_signatures=spec.thought_signatures,
        )


class _ModelFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ollama: dict[str, ModelSpec] = Field(default_factory=dict)
    gemini: dict[str, ModelSpec] = Field(default_factory=dict)
    anthropic: dict[str, ModelSpec] = Field(default_factory=dict)


def load_model_table(path: Path | None) -> ModelTable:
    """The built-in table overlaid with the YAML file at ``path`` (``MC_MODELS_FILE``)."""
    if path is None:
        return ModelTable({provider: dict(models) for provider, models in BUILTIN_MODELS.items()})
    return ModelTable(
        load_overrides(path, setting="MC_MODELS_FILE", schema=_ModelFile, builtin=BUILTIN_MODELS)
    )
