"""The run's models: its primary, then its fallbacks, each described before the first step.

The chain is the run's model (the TaskRun's, else the Task's, else the default provider's)
followed by that reference's ``fallbacks``, or, when it names none, the operator's default
chain (``MC_MODEL_FALLBACKS``). A model listed twice is tried once. Each model is described
by the catalog (tools, context window) before the run starts: one the run names itself that
cannot serve the Task ends the run with ``InvalidTask`` and the same words as the Task's
``Ready`` condition.
"""

from __future__ import annotations

import dataclasses

from mission_control.agent.context import RunEnded
from mission_control.agent.ports import ProviderSource
from mission_control.agent.request import AgentServices, RunRequest
from mission_control.llm.catalog import model_problem
from mission_control.llm.chain import FallbackChain, ModelLink
from mission_control.llm.errors import ProviderError
from mission_control.resources.common import ModelRef
from mission_control.settings import Provider

__all__ = ["build_chain", "chain_choices", "describe_chain", "named_models"]


def chain_choices(
    chosen: ModelRef | None, *, default_fallbacks: tuple[tuple[Provider, str], ...]
) -> list[tuple[Provider | None, str | None]]:
    """(provider, model) of each link, in order; None means the configured default.

    ``chosen`` is the run's model reference (the TaskRun's, else the Task's).
    """
    if chosen is None:
        return [(None, None), *default_fallbacks]
    fallbacks: list[tuple[Provider | None, str | None]] = [
        (fallback.provider, fallback.name) for fallback in chosen.fallbacks
    ]
    return [(chosen.provider, chosen.name), *(fallbacks or default_fallbacks)]


def named_models(chosen: ModelRef | None) -> list[tuple[Provider, str]]:
    """The models a Task or TaskRun names itself, by provider and name.

    Only these are judged before a run: the defaults (``OLLAMA_MODEL``..., the operator's
    ``MC_MODEL_FALLBACKS``) are the operator's configuration, which its health check reports.
    """
    if chosen is None:
        return []
    named = [(chosen.provider, chosen.name)] + [(f.provider, f.name) for f in chosen.fallbacks]
    return [(provider, name) for provider, name in named if name is not None]


def build_chain(
    request: RunRequest, *, providers: ProviderSource, services: AgentServices
) -> FallbackChain:
    """The run's chain; ``ProviderError`` ends the run when a provider is not configured."""
    links: list[ModelLink] = []
    chosen = request.spec.model or request.task.model
    for provider, model in chain_choices(chosen, default_fallbacks=services.fallbacks):
        try:
            client = providers.get(provider)
        except ProviderError as exc:
            raise RunEnded("ProviderError", str(exc)) from exc
        link = ModelLink(client=client, model=model or client.default_model)
        if all(link.label != known.label for known in links):
            links.append(link)
    return FallbackChain(links=links, cooldown_seconds=services.fallback_cooldown_seconds)


async def describe_chain(
    chain: FallbackChain, *, request: RunRequest, services: AgentServices
) -> None:
    """Describe every link (catalog); ``InvalidTask`` when a model the run names cannot serve
    the Task."""
    named = set(named_models(request.spec.model or request.task.model))
    described: list[ModelLink] = []
    for link in chain.links:
        info = await services.catalog.describe(provider=link.provider, model=link.model)
        problem = model_problem(info)
        if problem is not None and (link.provider, link.model) in named:
            reason, message = problem
            raise RunEnded("InvalidTask", f"the Task is not Ready ({reason}): {message}")
        described.append(dataclasses.replace(link, info=info))
    chain.links = described
