"""Budgets: the stricter of Task limits and policy budgets; the check before each request."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mission_control.resources.task import Limits
from mission_control.resources.toolpolicy import Budgets
from mission_control.runs.limits import (
    DEFAULT_MAX_STEPS,
    EffectiveLimits,
    LimitExceeded,
    Spent,
    check,
    effective,
)


@pytest.mark.parametrize(
    ("limits", "budgets", "want"),
    [
        (None, None, EffectiveLimits()),
        (Limits(max_steps=5, timeout_seconds=60), None,
         EffectiveLimits(max_steps=5, timeout_seconds=60)),
        (Limits(max_tokens=1000, max_cost_usd=Decimal("0.50")),
         Budgets(max_tokens_per_run=500, max_cost_usd_per_run=Decimal("1.00")),
         EffectiveLimits(max_tokens=500, max_cost_usd=Decimal("0.50"),
                         tokens_limit="maxTokensPerRun")),
        (None, Budgets(max_tokens_per_run=700, max_cost_usd_per_run=Decimal("0.10")),
         EffectiveLimits(max_tokens=700, max_cost_usd=Decimal("0.10"),
                         tokens_limit="maxTokensPerRun", cost_limit="maxCostUSDPerRun")),
        (Limits(max_tokens=300), Budgets(max_tokens_per_day=9000,
                                         max_cost_usd_per_day=Decimal("5")),
         EffectiveLimits(max_tokens=300, max_tokens_per_day=9000,
                         max_cost_usd_per_day=Decimal("5"))),
    ],
)  # fmt: skip
def test_effective_limits_are_the_stricter_of_task_and_policy(
    limits: Limits | None, budgets: Budgets | None, want: EffectiveLimits
) -> None:
    assert effective(limits, budgets) == want


def test_a_policy_budget_that_binds_is_named_as_the_policy_writes_it() -> None:
    limits = effective(Limits(max_tokens=1000), Budgets(max_tokens_per_run=500))

    with pytest.raises(LimitExceeded, match=r"^maxTokensPerRun 500 reached: 512 tokens"):
        check(limits, Spent(tokens=512))


def test_without_max_steps_a_run_still_stops() -> None:
    with pytest.raises(LimitExceeded, match=f"maxSteps {DEFAULT_MAX_STEPS} reached"):
        check(EffectiveLimits(), Spent(steps=DEFAULT_MAX_STEPS))


LIMITS = EffectiveLimits(
    max_steps=10,
    max_tokens=5000,
    max_cost_usd=Decimal("0.50"),
    max_tokens_per_day=100_000,
    max_cost_usd_per_day=Decimal("5.00"),
)


@pytest.mark.parametrize(
    ("spent", "limit", "message"),
    [
        (Spent(steps=10), "maxSteps", "maxSteps 10 reached: 10 steps"),
        (Spent(steps=3, tokens=5120), "maxTokens",
         "maxTokens 5000 reached: 5120 tokens used by this run"),
        (Spent(cost_usd=Decimal("0.5000001")), "maxCostUSD",
         "maxCostUSD 0.50 reached: 0.5000001 USD spent by this run"),
        (Spent(day_tokens=100_000), "maxTokensPerDay",
         "maxTokensPerDay 100000 reached: 100000 tokens used today"),
        (Spent(day_cost_usd=Decimal("7.25")), "maxCostUSDPerDay",
         "maxCostUSDPerDay 5.00 reached: 7.25 USD spent today"),
    ],
)  # fmt: skip
def test_a_reached_limit_is_named_with_its_numbers(spent: Spent, limit: str, message: str) -> None:
    with pytest.raises(LimitExceeded) as raised:
        check(LIMITS, spent)

    assert raised.value.limit == limit
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("field", "below", "at"),
    [
        ("steps", 9, 10),
        ("tokens", 4999, 5000),
        ("cost_usd", Decimal("0.49"), Decimal("0.50")),
        ("day_tokens", 99_999, 100_000),
        ("day_cost_usd", Decimal("4.99"), Decimal("5.00")),
    ],
)
def test_the_next_request_may_go_until_a_limit_is_reached(
    field: str, below: int | Decimal, at: int | Decimal
) -> None:
    check(LIMITS, Spent(**{field: below}))  # just under: no error

    with pytest.raises(LimitExceeded):
        check(LIMITS, Spent(**{field: at}))
