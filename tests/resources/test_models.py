"""The typed models and the generated CRD files agree with each other (no API server needed)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from mission_control.resources import ClusterToolPolicy, Limits, Task, TaskRun, ToolPolicy
from mission_control.resources.crds import all_crds, render
from mission_control.resources.taskrun import PendingApproval, RunResult, UsageStatus
from mission_control.resources.tasktrigger import TaskTrigger
from tests.resources.corpus import (
    INVALID,
    Case,
    clustertoolpolicy,
    task,
    taskrun,
    tasktrigger,
    toolpolicy,
)

ROOT = Path(__file__).resolve().parents[2]
MODELS: dict[str, type[BaseModel]] = {
    "Task": Task,
    "TaskRun": TaskRun,
    "ToolPolicy": ToolPolicy,
    "ClusterToolPolicy": ClusterToolPolicy,
    "TaskTrigger": TaskTrigger,
}


def examples() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((ROOT / "manifests" / "examples").glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def test_crd_files_are_generated_from_the_schema_module() -> None:
    for name, crd in all_crds().items():
        assert (ROOT / "crds" / name).read_text() == render(crd), (
            f"crds/{name} is stale: run `make crds`"
        )


def _properties_without_description(schema: dict[str, Any], path: str) -> list[str]:
    missing = []
    for name, prop in schema.get("properties", {}).items():
        where = f"{path}.{name}"
        if name not in {"apiVersion", "kind", "metadata"} and not prop.get("description"):
            missing.append(where)
        missing += _properties_without_description(prop, where)
        if "items" in prop:
            missing += _properties_without_description(prop["items"], where + "[]")
    return missing


@pytest.mark.parametrize("name", sorted(all_crds()))
def test_every_field_has_a_description_for_kubectl_explain(name: str) -> None:
    schema = all_crds()[name]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert _properties_without_description(schema, name.removesuffix(".yaml")) == []


@pytest.mark.parametrize(
    "doc", examples(), ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}"
)
def test_examples_parse_into_the_models(doc: dict[str, Any]) -> None:
    model = MODELS[doc["kind"]].model_validate(doc)
    assert model.to_k8s()["spec"] == doc["spec"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "build", [task, taskrun, toolpolicy, clustertoolpolicy, tasktrigger], ids=lambda f: f.__name__
)
def test_valid_base_objects_round_trip_through_the_models(build: Any) -> None:
    doc = build()
    model = MODELS[doc["kind"]].model_validate(doc)
    assert model.to_k8s()["spec"] == doc["spec"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", INVALID, ids=lambda case: case.id)
def test_models_reject_what_the_api_server_rejects(case: Case) -> None:
    manifest = case.manifest()
    with pytest.raises(ValidationError):
        MODELS[manifest["kind"]].model_validate(manifest)


def test_money_is_decimal_and_serialises_as_text() -> None:
    policy = ToolPolicy.model_validate(toolpolicy())
    assert policy.spec.budgets is not None
    assert str(policy.spec.budgets.max_cost_usd_per_day) == "5.00"
    assert policy.to_k8s()["spec"]["budgets"]["maxCostUSDPerDay"] == "5.00"


def test_a_status_cost_total_with_many_decimals_round_trips() -> None:
    # 410 tokens at 0.30 USD per million: exact sums of per-token prices have 7+ decimals.
    total = UsageStatus(total_tokens=410, cost_usd=Decimal("0.0001231"))
    wire = total.to_k8s()
    assert wire["costUSD"] == "0.0001231"
    assert UsageStatus.model_validate(wire) == total


@pytest.mark.parametrize("amount", [0.5, Decimal("0.0000001"), Decimal("-1"), True])
def test_a_limit_the_api_server_would_reject_is_rejected(amount: object) -> None:
    with pytest.raises(ValidationError, match="decimal amount of US dollars written as text"):
        Limits.model_validate({"maxCostUSD": amount})


def test_a_limit_given_as_a_decimal_is_sent_as_text() -> None:
    assert Limits(max_cost_usd=Decimal("0.50")).to_k8s() == {"maxCostUSD": "0.50"}


def test_status_fields_are_bounded_like_the_crd() -> None:
    with pytest.raises(ValidationError, match="at most 8192 characters"):
        RunResult(summary="x" * 8193)
    with pytest.raises(ValidationError, match="at most 2048 characters"):
        PendingApproval.model_validate(
            {
                "toolCallId": "tc-1",
                "tool": "delete_k8s_pod",
                "risk": "DESTRUCTIVE",
                "arguments": "x" * 2049,
                "argsDigest": "sha256:" + "0" * 64,
                "requestedAt": "2026-01-01T00:00:00Z",
                "expiresAt": "2026-01-01T01:00:00Z",
            }
        )


def test_several_people_may_decide_one_call_but_each_only_once() -> None:
    run = taskrun()
    first = {"toolCallId": "tc-1", "decision": "Approve", "by": "alice", "groups": ["sre"]}
    run["spec"]["approvals"] = [first, {**first, "by": "bob"}]
    assert [a.by for a in TaskRun.model_validate(run).spec.approvals] == ["alice", "bob"]
    run["spec"]["approvals"].append({**first, "decision": "Reject"})
    with pytest.raises(
        ValidationError, match=r"duplicate approvals \(toolCallId, by\): tc-1 by alice"
    ):
        TaskRun.model_validate(run)


def test_an_empty_namespace_selector_is_kept_as_every_namespace() -> None:
    policy = ClusterToolPolicy.model_validate(clustertoolpolicy())
    grant = policy.spec.grants[1]
    assert grant.namespaces.match_labels is None
    assert grant.namespaces.match_expressions is None
    assert policy.to_k8s()["spec"]["grants"][1]["namespaces"] == {}
