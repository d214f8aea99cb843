"""Which models exist and what they can do, asked before a run starts.

Ollama is asked itself (``/api/show``: is the model pulled, does it have the ``tools``
capability, which ``num_ctx``); Gemini and Anthropic models are looked up in the
:class:`~mission_control.llm.models.ModelTable`. An entry of ``MC_MODELS_FILE`` overrides the
context window whatever the source. Answers are cached for ``ttl`` seconds, so a Task judged on
every watch event does not ask the server each time; a server that cannot answer leaves the
model unknown (not "missing": an outage is what the fallback chain is for).

:func:`model_problem` turns an answer into the reason a Task is not Ready, in words that say
what to do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from mission_control.llm.errors import ProviderError
from mission_control.llm.models import ModelInfo, ModelTable

__all__ = ["Describe", "ModelCatalog", "ModelProblem", "model_problem"]

log = logging.getLogger(__name__)

Describe = Callable[[str], Awaitable[ModelInfo]]
ModelProblem = Literal["ModelCannotCallTools", "ModelNotPulled"]


class ModelCatalog:
    """Describes models: by asking their server where it can tell, else from the table."""

    def __init__(
        self,
        *,
        table: ModelTable,
        servers: Mapping[str, Describe] | None = None,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table
        self._servers = dict(servers or {})
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, ModelInfo]] = {}

    @property
    def table(self) -> ModelTable:
        return self._table

    async def describe(self, *, provider: str, model: str) -> ModelInfo:
        """What is known of ``model``; never raises for an unreachable server."""
        key = (provider, model)
        cached = self._cache.get(key)
        if cached is not None and self._clock() - cached[0] < self._ttl:
            return cached[1]
        listed = self._table.info(provider=provider, model=model)
        server = self._servers.get(provider)
        if server is None:
            info = listed
        else:
            try:
                info = await server(model)
            except ProviderError as exc:
                log.info("cannot describe %s model %s: %s", provider, model, exc)
                return listed  # not cached: ask again once the server is back
            if listed.context_window is not None:  # the file overrides what the server says
                info = ModelInfo(
                    provider=info.provider,
                    model=info.model,
                    present=info.present,
                    tools=info.tools,
                    context_window=listed.context_window,
                )
        self._cache[key] = (self._clock(), info)
        return info


def model_problem(info: ModelInfo) -> tuple[ModelProblem, str] | None:
    """Why a Task cannot run on this model (its tools need tool calls), or None."""
    if info.present is False:
        return (
            "ModelNotPulled",
            f"{info.provider} model {info.model} is not pulled on the Ollama server: "
            f"run `ollama pull {info.model}` there, or choose another model",
        )
    if info.tools is False:
        return (
            "ModelCannotCallTools",
            f"{info.provider} model {info.model} cannot call tools (its server does not report "
            "the tools capability), and every Task needs tools: choose a model that supports "
            "tool calling, e.g. llama3.1 or qwen3",
        )
    return None
