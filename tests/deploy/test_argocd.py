"""manifests/argocd: the Applications leave kubectl's approvals and cancellations alone, the
chart Application's values pass the chart's schema, and the health checks know every reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from mission_control.runs.status import REASON_STATUS, RunReason
from tests.deploy.chart import ROOT, Helm, documents
from tests.resources.test_argocd_health import health, run

ARGOCD = ROOT / "manifests" / "argocd"
APPLICATIONS = sorted(ARGOCD.glob("application*.yaml"))
KUBECTL_FIELDS = {"/spec/approvals", "/spec/status", "/spec/statusMessage"}


def _application(path: Path) -> dict[str, Any]:
    [application] = documents(path.read_text())
    assert application["kind"] == "Application"
    return application


@pytest.mark.parametrize("path", APPLICATIONS, ids=lambda p: p.name)
def test_self_heal_keeps_approvals_and_cancellations_made_with_kubectl(path: Path) -> None:
    spec = _application(path)["spec"]
    [taskruns] = [
        d
        for d in spec["ignoreDifferences"]
        if d["group"] == "missioncontrol.dev" and d["kind"] == "TaskRun"
    ]
    assert set(taskruns["jsonPointers"]) >= KUBECTL_FIELDS
    # Without it, a sync (self-heal included) would still write Git's version of those fields.
    assert "RespectIgnoreDifferences=true" in spec["syncPolicy"]["syncOptions"]
    assert spec["syncPolicy"]["automated"]["selfHeal"] is True


def test_there_is_an_application_for_the_chart_and_one_for_a_folder_of_tasks() -> None:
    paths = {_application(p)["spec"]["source"]["path"] for p in APPLICATIONS}
    assert paths == {"helm/mission-control", "mission-control/tasks"}


def test_the_chart_applications_values_pass_the_schema_and_render(
    helm: Helm, tmp_path: Path
) -> None:
    [chart_app] = [p for p in APPLICATIONS if "helm" in _application(p)["spec"]["source"]["path"]]
    source = _application(chart_app)["spec"]["source"]
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(source["helm"]["valuesObject"]))
    objects = documents(helm.template("-f", str(values), release=source["helm"]["releaseName"]))
    agents = {o["metadata"]["namespace"] for o in objects if o["kind"] == "RoleBinding"}
    assert {"media", "monitoring"} <= agents


def _expected(reason: str) -> str:
    if reason in ("Pending", "AwaitingApproval"):
        return "Suspended"  # waits for a person
    return {"True": "Healthy", "False": "Degraded", "Unknown": "Progressing"}[
        REASON_STATUS[reason]  # type: ignore[index]
    ]


@pytest.mark.parametrize("reason", get_args(RunReason))
def test_the_taskrun_health_check_knows_every_reason(reason: str) -> None:
    spec: dict[str, Any] = {"taskRef": {"name": "t"}}
    if reason == "Pending":
        spec["status"] = "Pending"
    obj = run(spec, status=REASON_STATUS[reason], reason=reason, message="m")  # type: ignore[index]
    status, message = health("TaskRun", obj)
    assert status == _expected(reason), (reason, message)
