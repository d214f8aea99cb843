"""The operator's metrics, scraped by a real Prometheus during a real run and read with PromQL.

One run lists pods (allowed), asks to delete one (held for approval, then rejected with
kubectl patch) and answers. Prometheus scrapes the operator's metrics port every second; each
metric is queried by PromQL, and no series carries the run's name or namespace.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.controlplane.launcher import Cluster
from tests.e2e.harness import Scene, look_then_hold_a_delete
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import wait_until
from tests.support.prometheus import PrometheusServer

pytestmark = [
    pytest.mark.controlplane,
    pytest.mark.postgres,
    pytest.mark.ollama,
    pytest.mark.prometheus,
    pytest.mark.slow,
]

CHECKPOINT = f"mc-audit-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def operator_extra_env() -> dict[str, str]:
    return {
        "MC_INVENTORY_REFRESH_SECONDS": "5",
        "MC_AUDIT_CHECKPOINT_NAMESPACE": "default",
        "MC_AUDIT_CHECKPOINT_NAME": CHECKPOINT,
        "MC_AUDIT_CHECKPOINT_EVERY": "3",
    }


@pytest.fixture(scope="module", autouse=True)
def checkpoint_removed(crds: Cluster) -> Iterator[None]:
    # The operator writes its audit checkpoint outside the test namespaces.
    yield
    crds.kubectl("delete", "configmap", CHECKPOINT, "-n", "default", check=False)


def value(prometheus: PrometheusServer, expr: str) -> float | None:
    """The single value of ``expr`` now, None when it has no series."""
    found = prometheus.series(expr)
    assert len(found) <= 1, found
    return float(found[0]["value"][1]) if found else None


def eventually(prometheus: PrometheusServer, expr: str, check: Any, what: str) -> float:
    wait_until(
        lambda: (v := value(prometheus, expr)) is not None and check(v),
        timeout=60,
        what=what,
    )
    found = value(prometheus, expr)
    assert found is not None
    return found


def test_a_run_shows_in_every_metric_with_bounded_labels(
    scene: Scene, scraper: PrometheusServer, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    model = look_then_hold_a_delete(scene, scripted_model, prompt="Look, then tidy up.")
    eventually(scraper, "mission_control_runs_awaiting_approval", lambda v: v == 1, "a held run")
    assert value(scraper, "mission_control_runs_active") == 1
    scene.reject_pending("look-1")
    scene.wait("look-1")

    finished = 'mission_control_runs_finished_total{reason="Succeeded"}'
    assert eventually(scraper, finished, lambda v: v >= 1, "the finished run") >= 1
    assert value(scraper, "mission_control_runs_started_total") >= 1  # type: ignore[operator]
    count = 'mission_control_run_duration_seconds_count{reason="Succeeded"}'
    assert eventually(scraper, count, lambda v: v >= 1, "the run's duration") >= 1
    eventually(scraper, "mission_control_runs_active", lambda v: v == 0, "no active run")
    assert value(scraper, "mission_control_runs_awaiting_approval") == 0
    assert value(scraper, "mission_control_runs_queued") == 0

    ok = f'mission_control_llm_requests_total{{provider="ollama",model="{model}",outcome="ok"}}'
    assert eventually(scraper, ok, lambda v: v >= 3, "three LLM requests") == 3
    latency = f'mission_control_llm_request_duration_seconds_count{{model="{model}"}}'
    assert value(scraper, latency) == 3
    tokens = f'sum by (kind) (mission_control_llm_tokens_total{{model="{model}"}})'
    kinds = {s["metric"]["kind"]: float(s["value"][1]) for s in scraper.series(tokens)}
    assert set(kinds) == {"input", "output"}
    assert kinds["input"] > 0
    assert kinds["output"] > 0
    cost = f'mission_control_llm_cost_usd_total{{model="{model}"}}'
    assert value(scraper, cost) == 0  # a local model is free

    calls = {
        (s["metric"]["tool"], s["metric"]["risk"], s["metric"]["decision"], s["metric"]["outcome"])
        for s in scraper.series("mission_control_tool_calls_total > 0")
    }
    assert ("list_k8s_pods", "READ_ONLY", "Allow", "completed") in calls
    assert ("delete_k8s_pod", "DESTRUCTIVE", "RequireApproval", "rejected") in calls
    ran = 'mission_control_tool_duration_seconds_count{tool="list_k8s_pods"}'
    assert value(scraper, ran) >= 1  # type: ignore[operator]
    writes = value(scraper, "mission_control_journal_write_duration_seconds_count")
    assert writes is not None
    assert writes >= 10
    assert value(scraper, "mission_control_journal_write_failures_total") == 0

    age = 'mission_control_inventory_refresh_age_seconds{source="kubernetes"}'
    assert 0 <= eventually(scraper, age, lambda v: v == v, "a refreshed inventory") < 60
    refresh_failures = 'mission_control_inventory_refresh_failures_total{source="kubernetes"}'
    assert value(scraper, refresh_failures) == 0
    checkpoint_age = "mission_control_audit_checkpoint_age_seconds"
    assert eventually(scraper, checkpoint_age, lambda v: v >= 0, "an audit checkpoint") >= 0
    checkpoint = json.loads(
        scene.cluster.kubectl("get", "configmap", CHECKPOINT, "-n", "default", "-o", "json").stdout
    )
    assert int(checkpoint["data"]["entryId"]) >= 3

    every = scraper.series('{__name__=~"mission_control_.+"}')
    assert every
    for sample in every:
        labels = sample["metric"]
        assert ns not in labels.values(), labels
        assert "look-1" not in labels.values(), labels
