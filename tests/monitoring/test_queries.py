"""Every PromQL expression of the Grafana dashboard and of the alert rules, evaluated by a real
Prometheus that scraped a real operator doing real runs: each returns data, or is listed in
``EMPTY_UNTIL`` with the event it waits for (and is then checked to be empty, not broken).

The runs: one lists pods and asks to delete one (held for approval, rejected with kubectl),
then a ToolPolicy gives the namespace a per-day token budget the first run already used up, so
the next run ends ``LimitExceeded``: runs by reason, a failing run and a budget above 80%.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.harness import Scene, look_then_hold_a_delete, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import wait_until
from tests.support.prometheus import PrometheusServer
from tests.support.scripted_model import say

pytestmark = [
    pytest.mark.controlplane,
    pytest.mark.postgres,
    pytest.mark.ollama,
    pytest.mark.prometheus,
    pytest.mark.slow,
]

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "manifests" / "grafana" / "mission-control.json"
RULES = ROOT / "manifests" / "prometheus" / "rules.yaml"
#: Grafana's interval variables, as Grafana would fill them for a recent range.
GRAFANA_VARIABLES = {"$__rate_interval": "5m"}
#: Expressions without data here, and the event that gives them some.
EMPTY_UNTIL = {
    'sum by (provider, outcome) (rate(mission_control_llm_requests_total{outcome!="ok"}[5m]))': (
        "a provider answers with an error, throttles or times out"
    ),
    "max(mission_control_approval_wait_oldest_seconds) > 1800": (
        "a tool call has waited 30 minutes for approval"
    ),
    "sum(increase(mission_control_journal_write_failures_total[5m])) > 0": (
        "a write finds PostgreSQL unavailable"
    ),
    "MissionControlInventoryStale": "an inventory source fails to refresh for 10 minutes",
    "absent(mission_control_runs_active)": "no operator is scraped",
}


def dashboard_expressions() -> list[tuple[str, str]]:
    found = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, expr  # every variable above is filled in
            found.append((f"{panel['title']} {target['refId']}", expr))
    return found


def rule_expressions() -> list[tuple[str, str]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [(rule["alert"], rule["expr"]) for group in groups for rule in group["rules"]]


@pytest.fixture(scope="module")
def operator_extra_env() -> dict[str, str]:
    # Default labels (no namespace on runs, tokens and cost: the namespace panel shows one
    # total); the inventory refreshed often enough to have an age.
    return {"MC_INVENTORY_REFRESH_SECONDS": "5"}


def finite(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in found if math.isfinite(float(s["value"][1]))]


def test_every_dashboard_and_alert_expression_returns_data_from_real_runs(
    scene: Scene, scraper: PrometheusServer, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    look_then_hold_a_delete(scene, scripted_model)
    wait_until(
        lambda: bool(finite(scraper.series("mission_control_approval_wait_oldest_seconds > 0"))),
        timeout=60,
        what="the held call's wait, scraped",
    )
    scene.reject_pending("look-1")
    scene.wait("look-1")
    # The day's tokens already pass this budget: the next run's first check ends it.
    budget = {"budgets": {"maxTokensPerDay": 100}}
    policy = {"apiVersion": "missioncontrol.dev/v1alpha1", "kind": "ToolPolicy"}
    scene.apply({**policy, "metadata": {"name": "default"}, "spec": budget})
    spend = scripted_model(turns=[say("Spent.")])
    scene.apply(task("spend", model=spend, prompt="Spend."), taskrun("spend-1", task_name="spend"))
    scene.wait_for(
        "spend-1", jsonpath="{.status.conditions[0].reason}", value="LimitExceeded", timeout=90
    )
    failed = 'mission_control_runs_finished_total{reason="LimitExceeded"} >= 1'
    wait_until(
        lambda: bool(scraper.series(failed)), timeout=60, what="the LimitExceeded run, scraped"
    )

    empty, with_data = [], []
    for name, expr in [*dashboard_expressions(), *rule_expressions()]:
        found = finite(scraper.series(expr))
        waits_for = EMPTY_UNTIL.get(expr) or EMPTY_UNTIL.get(name)
        if waits_for is None:
            assert found, f"{name}: no data from real runs for {expr}"
            with_data.append(name)
        else:
            assert not found, f"{name} has data, though it should wait until {waits_for}: {found}"
            empty.append(name)
    assert len(empty) == len(EMPTY_UNTIL)  # every entry matched an expression

    # What the panels and alerts show is the runs above.
    reasons = "sum by (reason) (increase(mission_control_runs_finished_total[5m])) > 0"
    shown = {s["metric"]["reason"] for s in scraper.series(reasons)}
    assert shown == {"Succeeded", "LimitExceeded"}
    by_namespace = "sum by (namespace) (increase(mission_control_llm_tokens_total[5m])) > 0"
    assert [s["metric"] for s in scraper.series(by_namespace)] == [{}]
    [budget_alert] = scraper.series(dict(rule_expressions())["MissionControlDailyBudgetHigh"])
    assert budget_alert["metric"] == {"namespace": ns, "limit": "maxTokensPerDay"}
    assert float(budget_alert["value"][1]) >= 1
    [failing] = scraper.series(dict(rule_expressions())["MissionControlRunsFailing"])
    assert failing["metric"] == {"reason": "LimitExceeded"}
    decisions = "sum by (decision) (mission_control_tool_calls_total) > 0"
    assert {s["metric"]["decision"] for s in scraper.series(decisions)} == {
        "Allow",
        "RequireApproval",
    }
    print(f"{len(with_data)} expressions with data, {len(empty)} empty until their event")
