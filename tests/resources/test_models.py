"""The typed models and the generated CRD files agree with each other (no API server needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from mission_control.resources import Task, TaskRun, ToolPolicy
from mission_control.resources.crds import all_crds, render
from tests.resources.corpus import INVALID, Case, task, taskrun, toolpolicy

ROOT = Path(__file__).resolve().parents[2]
MODELS: dict[str, type[BaseModel]] = {"Task": Task, "TaskRun": TaskRun, "ToolPolicy": ToolPolicy}


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


@pytest.mark.parametrize("build", [task, taskrun, toolpolicy], ids=lambda f: f.__name__)
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
