"""What the alert rules read: a namespace's per-day budget use, the oldest held call, and a
series per reason from the start.

Read from the operator's own registry, as Prometheus would scrape it; the same gauges from a real
run scraped by a real Prometheus are in tests/monitoring/test_queries.py.
"""

from __future__ import annotations

from decimal import Decimal

from mission_control.telemetry.metrics import OperatorMetrics

RATIO = "mission_control_daily_budget_used_ratio"
OLDEST = "mission_control_approval_wait_oldest_seconds"


def test_daily_budget_use_is_a_ratio_per_namespace_and_limit() -> None:
    metrics = OperatorMetrics()
    metrics.daily_budgets(namespace="media", tokens=(850, 1000), cost=(Decimal("1.5"), None))
    metrics.daily_budgets(namespace="lab", tokens=(10, None), cost=(Decimal("3"), Decimal("4")))

    sample = metrics.registry.get_sample_value
    assert sample(RATIO, {"namespace": "media", "limit": "maxTokensPerDay"}) == 0.85
    assert sample(RATIO, {"namespace": "lab", "limit": "maxCostUSDPerDay"}) == 0.75
    # No budget, no series: an unbudgeted namespace is never "above 80%".
    assert sample(RATIO, {"namespace": "media", "limit": "maxCostUSDPerDay"}) is None
    assert sample(RATIO, {"namespace": "lab", "limit": "maxTokensPerDay"}) is None


def test_the_oldest_held_call_is_measured_while_held_and_zero_after() -> None:
    metrics = OperatorMetrics()
    assert metrics.registry.get_sample_value(OLDEST) == 0
    with metrics.awaiting_approval():
        with metrics.awaiting_approval():
            waited = metrics.registry.get_sample_value(OLDEST)
            assert waited is not None
            assert waited > 0
        # The first one is still held: its wait only grows.
        later = metrics.registry.get_sample_value(OLDEST)
        assert later is not None
        assert later >= waited
    assert metrics.registry.get_sample_value(OLDEST) == 0
    assert metrics.registry.get_sample_value("mission_control_runs_awaiting_approval") == 0


def test_every_reason_has_a_series_from_the_start_so_the_first_run_counts() -> None:
    sample = OperatorMetrics().registry.get_sample_value
    for reason in ("Succeeded", "Failed", "LimitExceeded", "ProviderError", "Interrupted"):
        assert sample("mission_control_runs_finished_total", {"reason": reason}) == 0
        assert sample("mission_control_run_duration_seconds_count", {"reason": reason}) == 0
    # Per namespace, the series are born with the namespace's first run.
    labelled = OperatorMetrics(namespace_label=True).registry.get_sample_value
    assert labelled("mission_control_runs_finished_total", {"reason": "Failed"}) is None
