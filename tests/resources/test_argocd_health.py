"""The Argo CD health checks in manifests/argocd, run by a real Lua interpreter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lupa
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHECKS = yaml.safe_load((ROOT / "manifests" / "argocd" / "health-checks.yaml").read_text())["data"]


def health(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)

    def to_lua(value: Any) -> Any:
        if isinstance(value, dict):
            return lua.table_from({k: to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return lua.table_from([to_lua(v) for v in value])
        return value

    lua.globals().obj = to_lua(obj)
    script = CHECKS[f"resource.customizations.health.missioncontrol.dev_{kind}"]
    result = lua.execute(script)
    return str(result["status"]), str(result["message"])


def run(spec: dict[str, Any] | None = None, **condition: str) -> dict[str, Any]:
    obj: dict[str, Any] = {"spec": spec or {"taskRef": {"name": "t"}}}
    if condition:
        obj["status"] = {"conditions": [{"type": "Succeeded", **condition}]}
    return obj


@pytest.mark.parametrize(
    ("obj", "status", "message"),
    [
        (run(), "Progressing", "Waiting for the operator to start the run"),
        (
            run(status="Unknown", reason="Running", message="step 2 of at most 10"),
            "Progressing",
            "Running: step 2 of at most 10",
        ),
        (
            run(
                status="Unknown",
                reason="AwaitingApproval",
                message="delete_k8s_pod media/web-0 (DESTRUCTIVE) needs approval",
            ),
            "Suspended",
            "delete_k8s_pod media/web-0 (DESTRUCTIVE) needs approval",
        ),
        (
            run({"taskRef": {"name": "t"}, "status": "Pending"}),
            "Suspended",
            'Pending: set spec.status to "" to start the run',
        ),
        (
            run(status="True", reason="Succeeded", message="2 pods explained"),
            "Healthy",
            "2 pods explained",
        ),
        (
            run(status="False", reason="LimitExceeded", message="maxSteps 10 reached"),
            "Degraded",
            "LimitExceeded: maxSteps 10 reached",
        ),
    ],
)
def test_taskrun_health(obj: dict[str, Any], status: str, message: str) -> None:
    assert health("TaskRun", obj) == (status, message)


@pytest.mark.parametrize("kind", ["Task", "ToolPolicy"])
def test_ready_condition_decides_task_and_policy_health(kind: str) -> None:
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True", "message": "ok"}]}}
    invalid = {
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "UnknownTool",
                    "message": "no tool x",
                }
            ]
        }
    }
    assert health(kind, {}) == ("Progressing", "Waiting for the operator to validate it")
    assert health(kind, ready) == ("Healthy", "ok")
    assert health(kind, invalid) == ("Degraded", "UnknownTool: no tool x")


def test_tasktrigger_health_from_ready_and_suspend() -> None:
    def trigger(suspend: bool = False, **ready: str) -> dict[str, Any]:
        obj: dict[str, Any] = {"spec": {"taskRef": {"name": "t"}, "suspend": suspend}}
        if ready:
            obj["status"] = {
                "conditions": [{"type": "Ready", **ready}],
                "lastRun": {"name": "daily-29412345"},
            }
        return obj

    assert health("TaskTrigger", trigger()) == (
        "Progressing",
        "Waiting for the operator to validate it",
    )
    assert health("TaskTrigger", trigger(status="True")) == (
        "Healthy",
        "Ready; last run daily-29412345",
    )
    assert health("TaskTrigger", trigger(suspend=True, status="True")) == (
        "Suspended",
        "Suspended: set spec.suspend to false to start runs again",
    )
    assert health(
        "TaskTrigger", trigger(status="False", reason="TokenMissing", message="create it")
    ) == ("Degraded", "TokenMissing: create it")
