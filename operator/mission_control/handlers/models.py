"""Whether the models of a Task's chain can serve it: asked of their servers or the table.

Used for the Task's ``Ready`` condition and again when a run starts, so a run of a Task whose
model cannot call tools (or is not pulled) fails fast with ``InvalidTask`` and the same words.
"""

from __future__ import annotations

from mission_control.agent.chain import named_models
from mission_control.handlers.services import OperatorServices
from mission_control.llm.catalog import model_problem
from mission_control.llm.errors import ProviderError
from mission_control.resources.common import ModelRef
from mission_control.runs.readiness import Readiness

__all__ = ["chain_readiness"]


async def chain_readiness(
    model: ModelRef | None, *, services: OperatorServices
) -> Readiness | None:
    """Why a model ``model`` names (primary, fallbacks) cannot serve a Task, or None.

    The operator's defaults are not judged here (see :func:`named_models`).
    """
    agent = services.agent
    unconfigured = services.capabilities.unconfigured_providers
    for fallback in model.fallbacks if model is not None else ():
        if fallback.provider in unconfigured:
            return Readiness(
                ready=False,
                reason="ProviderUnavailable",
                message=f"the fallback provider {fallback.provider} is not configured: "
                f"set {unconfigured[fallback.provider]}",
            )
    for provider, name in named_models(model):
        try:
            client = agent.providers.get(provider)
        except ProviderError:
            continue  # the primary's provider: task_readiness already says so
        info = await agent.catalog.describe(provider=client.name, model=name)
        problem = model_problem(info)
        if problem is not None:
            reason, message = problem
            return Readiness(ready=False, reason=reason, message=message)
    return None
