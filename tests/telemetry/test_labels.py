"""Label values stay bounded: namespaces only when asked for, unknown tools under one name."""

from __future__ import annotations

import socket
import urllib.request
from decimal import Decimal

import pytest

from mission_control.errors import ConfigError
from mission_control.llm.client import Attempt
from mission_control.telemetry import OperatorMetrics, serve_metrics
from tests.support.processes import free_port


def test_namespaces_label_runs_tokens_and_cost_only_when_asked() -> None:
    plain = OperatorMetrics()
    labelled = OperatorMetrics(namespace_label=True)
    for metrics in (plain, labelled):
        with metrics.run(namespace="team-a") as end:
            metrics.llm_usage(
                namespace="team-a",
                provider="gemini",
                model="gemini-2.5-flash",
                input_tokens=120,
                output_tokens=30,
                cost_usd=Decimal("0.0005"),
            )
            end("Succeeded")

    get = plain.registry.get_sample_value
    assert get("mission_control_runs_started_total") == 1
    assert get("mission_control_runs_finished_total", {"reason": "Succeeded"}) == 1
    tokens = {"provider": "gemini", "model": "gemini-2.5-flash", "kind": "input"}
    assert get("mission_control_llm_tokens_total", tokens) == 120
    get = labelled.registry.get_sample_value
    assert get("mission_control_runs_started_total", {"namespace": "team-a"}) == 1
    finished = {"namespace": "team-a", "reason": "Succeeded"}
    assert get("mission_control_runs_finished_total", finished) == 1
    assert get("mission_control_llm_tokens_total", {**tokens, "namespace": "team-a"}) == 120
    cost = {"namespace": "team-a", "provider": "gemini", "model": "gemini-2.5-flash"}
    assert get("mission_control_llm_cost_usd_total", cost) == 0.0005
    assert get("mission_control_runs_active") == 0


def test_every_attempt_counts_with_its_outcome() -> None:
    metrics = OperatorMetrics()
    for outcome in ("RateLimited", "ProviderUnavailable", "ok"):
        metrics.llm_attempt(
            Attempt(provider="ollama", model="m", outcome=outcome, latency_seconds=0.2)
        )
    get = metrics.registry.get_sample_value
    for outcome in ("RateLimited", "ProviderUnavailable", "ok"):
        labels = {"provider": "ollama", "model": "m", "outcome": outcome}
        assert get("mission_control_llm_requests_total", labels) == 1
    assert get("mission_control_llm_request_duration_seconds_count", labels) == 1


def test_the_checkpoint_age_is_negative_until_the_first_checkpoint() -> None:
    metrics = OperatorMetrics()
    get = metrics.registry.get_sample_value
    assert get("mission_control_audit_checkpoint_age_seconds") == -1
    metrics.audit_checkpointed(outcome="damaged")
    assert get("mission_control_audit_checkpoint_age_seconds") == -1
    metrics.audit_checkpointed(outcome="ok")
    assert get("mission_control_audit_checkpoint_age_seconds") >= 0  # type: ignore[operator]


def test_a_metrics_port_in_use_is_a_configuration_error_naming_the_setting() -> None:

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match="MC_METRICS_PORT"):
            serve_metrics(OperatorMetrics(), host="127.0.0.1", port=port)


def test_the_metrics_endpoint_serves_the_registry_and_stops() -> None:

    metrics = OperatorMetrics()
    metrics.tool_call(tool="list_k8s_pods", risk="READ_ONLY", decision="Allow", outcome="completed")
    port = free_port()
    stop = serve_metrics(metrics, host="127.0.0.1", port=port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        stop()
    assert (
        'mission_control_tool_calls_total{decision="Allow",outcome="completed",'
        'risk="READ_ONLY",tool="list_k8s_pods"} 1.0'
    ) in text
