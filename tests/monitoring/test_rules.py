"""The alert rules and the Grafana dashboard as files: promtool checks the rules and runs a unit
test of each alert; the chart carries both exactly as manifests/ has them.

Whether each expression finds data from a real operator is test_queries.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import CHART, Helm, by_kind, documents

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "manifests" / "prometheus" / "rules.yaml"
RULES_TEST = Path(__file__).parent / "rules_test.yaml"
DASHBOARD = ROOT / "manifests" / "grafana" / "mission-control.json"
ALERTS = {
    "MissionControlRunsFailing",
    "MissionControlApprovalWaiting",
    "MissionControlDailyBudgetHigh",
    "MissionControlJournalUnavailable",
    "MissionControlInventoryStale",
    "MissionControlOperatorDown",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: install the Debian package 'prometheus'")
    return subprocess.run([path, *args], capture_output=True, text=True, check=False, timeout=120)


def rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = promtool("test", "rules", str(RULES_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_summary_a_runbook_line_and_a_unit_test_that_fires_it() -> None:
    assert {r["alert"] for r in rules()} == ALERTS
    for rule in rules():
        assert rule["annotations"]["summary"], rule["alert"]
        assert len(rule["annotations"]["runbook"]) > 40, rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")
    fired = {
        case["alertname"]
        for test in yaml.safe_load(RULES_TEST.read_text())["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    quiet = {
        case["alertname"]
        for test in yaml.safe_load(RULES_TEST.read_text())["tests"]
        for case in test["alert_rule_test"]
        if not case["exp_alerts"]
    }
    assert fired == ALERTS
    # And each is shown not to fire where it should not (below its threshold, before its for).
    assert quiet == ALERTS - {"MissionControlInventoryStale"}


def test_the_charts_copies_are_the_manifests() -> None:
    assert (CHART / "files" / "prometheus-rules.yaml").read_text() == RULES.read_text(), (
        "copy manifests/prometheus/rules.yaml to helm/mission-control/files/prometheus-rules.yaml"
    )
    assert (CHART / "files" / "grafana-dashboard.json").read_text() == DASHBOARD.read_text(), (
        "copy manifests/grafana/mission-control.json to "
        "helm/mission-control/files/grafana-dashboard.json"
    )


def test_the_chart_renders_the_rules_and_the_dashboard_when_asked(helm: Helm) -> None:
    default = documents(helm.template())
    assert not by_kind(default, "PrometheusRule")
    assert not by_kind(default, "ConfigMap")
    objects = documents(
        helm.template(
            "--set", "prometheusRule.enabled=true", "--set", "prometheusRule.labels.role=alerts",
            "--set", "grafanaDashboard.enabled=true", "--set", "grafanaDashboard.namespace=grafana",
        )
    )  # fmt: skip
    [rule] = by_kind(objects, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
    assert rule["metadata"]["labels"]["role"] == "alerts"
    [dashboard] = by_kind(objects, "ConfigMap")
    assert dashboard["metadata"]["namespace"] == "grafana"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["mission-control.json"]) == json.loads(
        DASHBOARD.read_text()
    )


def test_the_dashboard_takes_its_datasource_from_a_variable_and_has_every_panel() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    [variable] = dashboard["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    text = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for metric in (
        "mission_control_runs_finished_total",
        "mission_control_runs_active",
        "mission_control_runs_queued",
        "mission_control_runs_awaiting_approval",
        "mission_control_run_duration_seconds_bucket",
        "mission_control_llm_request_duration_seconds_bucket",
        "mission_control_llm_requests_total",
        "mission_control_llm_tokens_total",
        "mission_control_llm_cost_usd_total",
        "mission_control_tool_calls_total",
        "mission_control_journal_write_duration_seconds_bucket",
        "mission_control_inventory_refresh_age_seconds",
        "mission_control_daily_budget_used_ratio",
    ):
        assert metric in text, metric
    for by in ("by (reason)", "by (le, provider)", "by (provider, outcome)", "by (model, kind)",
               "by (namespace)", "by (decision)", "by (source)"):  # fmt: skip
        assert by in text, by
