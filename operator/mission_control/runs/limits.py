"""Budgets of a run: the effective limits and the check made before each LLM request.

The effective per-run limit is the stricter (smaller) of the Task's ``limits`` and the policy's
``budgets``; per-day budgets count the whole namespace. When neither sets ``maxSteps`` the run
stops after :data:`DEFAULT_MAX_STEPS` steps, so no run loops forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from mission_control.errors import PermanentError
from mission_control.resources.task import Limits
from mission_control.resources.toolpolicy import Budgets

__all__ = ["DEFAULT_MAX_STEPS", "EffectiveLimits", "LimitExceeded", "Spent", "check", "effective"]

DEFAULT_MAX_STEPS = 20
_N = TypeVar("_N", int, Decimal)


class LimitExceeded(PermanentError):
    """A limit is reached; ``limit`` names it as the user wrote it (``maxTokens``...)."""

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True)
class EffectiveLimits:
    """The limits a run obeys; None is no limit. ``timeout_seconds`` counts active time.

    ``tokens_limit`` and ``cost_limit`` name the field that set the per-run limit (the Task's
    ``maxTokens``/``maxCostUSD`` or the policy's ``maxTokensPerRun``/``maxCostUSDPerRun``), so a
    message points at what the user wrote.
    """

    max_steps: int = DEFAULT_MAX_STEPS
    timeout_seconds: int | None = None
    max_tokens: int | None = None
    max_cost_usd: Decimal | None = None
    max_tokens_per_day: int | None = None
    max_cost_usd_per_day: Decimal | None = None
    tokens_limit: str = "maxTokens"
    cost_limit: str = "maxCostUSD"


@dataclass(frozen=True)
class Spent:
    """Usage so far: this run's, and the namespace's today (including this run's)."""

    steps: int = 0
    tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    day_tokens: int = 0
    day_cost_usd: Decimal = Decimal(0)


def effective(limits: Limits | None, budgets: Budgets | None) -> EffectiveLimits:
    """The stricter of the Task's limits and the policy's budgets."""
    task = limits or Limits()
    policy = budgets or Budgets()
    tokens, tokens_limit = _smaller(
        (task.max_tokens, "maxTokens"), (policy.max_tokens_per_run, "maxTokensPerRun")
    )
    cost, cost_limit = _smaller(
        (task.max_cost_usd, "maxCostUSD"), (policy.max_cost_usd_per_run, "maxCostUSDPerRun")
    )
    return EffectiveLimits(
        max_steps=task.max_steps or DEFAULT_MAX_STEPS,
        timeout_seconds=task.timeout_seconds,
        max_tokens=tokens,
        max_cost_usd=cost,
        max_tokens_per_day=policy.max_tokens_per_day,
        max_cost_usd_per_day=policy.max_cost_usd_per_day,
        tokens_limit=tokens_limit,
        cost_limit=cost_limit,
    )


def check(limits: EffectiveLimits, spent: Spent) -> None:
    """Raise :class:`LimitExceeded` if another LLM request would go past a limit."""
    checks: list[tuple[str, int | Decimal, int | Decimal | None, str]] = [
        ("maxSteps", spent.steps, limits.max_steps, "steps"),
        (limits.tokens_limit, spent.tokens, limits.max_tokens, "tokens used by this run"),
        (limits.cost_limit, spent.cost_usd, limits.max_cost_usd, "USD spent by this run"),
        ("maxTokensPerDay", spent.day_tokens, limits.max_tokens_per_day, "tokens used today"),
        ("maxCostUSDPerDay", spent.day_cost_usd, limits.max_cost_usd_per_day, "USD spent today"),
    ]
    for name, used, limit, what in checks:
        if limit is not None and used >= limit:
            raise LimitExceeded(f"{name} {_show(limit)} reached: {_show(used)} {what}", limit=name)


def _show(value: int | Decimal) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _smaller(task: tuple[_N | None, str], policy: tuple[_N | None, str]) -> tuple[_N | None, str]:
    # The Task's limit wins ties: it is the one closer to the run.
    if policy[0] is None or (task[0] is not None and task[0] <= policy[0]):
        return task
    return policy
