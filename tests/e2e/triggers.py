"""Helpers of the TaskTrigger end-to-end modules: manifests, the trigger's runs and status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.harness import AGENT_SERVICE_ACCOUNT, Scene, task
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import wait_until
from tests.support.scripted_model import call, say

TRIGGER_LABEL = "missioncontrol.dev/trigger"
OPERATOR_SOURCE = Path(__file__).resolve().parents[2] / "operator"


def this_checkout() -> dict[str, str]:
    """The operator's environment addition that runs this checkout's code, whichever checkout
    the console script was installed from."""
    return {"PYTHONPATH": str(OPERATOR_SOURCE)}


def trigger(name: str, *, task_name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "missioncontrol.dev/v1alpha1",
        "kind": "TaskTrigger",
        "metadata": {"name": name},
        "spec": {"taskRef": {"name": task_name}, **spec},
    }


def runs_of(scene: Scene, name: str) -> list[dict[str, Any]]:
    """The TaskRuns labelled for trigger ``name``, oldest first."""
    listed = json.loads(
        scene.kubectl("get", "taskruns", "-l", f"{TRIGGER_LABEL}={name}", "-o", "json")
    )
    # Not by resourceVersion: a run's status writes move it past the runs created after it.
    return sorted(
        listed["items"],
        key=lambda r: (r["metadata"]["creationTimestamp"], r["metadata"]["name"]),
    )


def outcome(run: dict[str, Any]) -> str:
    for condition in (run.get("status") or {}).get("conditions") or ():
        if condition["type"] == "Succeeded":
            return str(condition["status"])
    return "Unknown"


def status(scene: Scene, name: str) -> dict[str, Any]:
    return dict(scene.get("tasktrigger", name).get("status") or {})


def counts(scene: Scene, name: str) -> dict[str, int]:
    return dict(status(scene, name).get("counts") or {})


def ready(scene: Scene, name: str) -> dict[str, str]:
    for condition in status(scene, name).get("conditions") or ():
        if condition["type"] == "Ready":
            return dict(condition)
    return {}


def quick_task(scene: Scene, scripted_model: ScriptedModelFactory, name: str) -> None:
    """A Task whose runs succeed at once."""
    scene.apply(task(name, model=scripted_model(turns=[say("All good.")])))


def holding_task(scene: Scene, scripted_model: ScriptedModelFactory, name: str) -> None:
    """A Task whose runs stay active: each holds a pod deletion for approval."""
    ns = scene.namespace
    scene.kubectl(
        "create", "rolebinding", f"{name}-edit", "--clusterrole=edit",
        f"--serviceaccount={ns}:{AGENT_SERVICE_ACCOUNT}",
    )  # fmt: skip
    model = scripted_model(turns=[call("delete_k8s_pod", namespace=ns, name="web-0"), say("Done.")])
    scene.apply(task(name, model=model, prompt="Delete the pod.", tools=["delete_k8s_pod"]))


def grant_secret(
    scene: Scene, secret: str, *, account: str = AGENT_SERVICE_ACCOUNT, role: str | None = None
) -> None:
    """Let ``account`` of the scene's namespace get Secret ``secret`` (TaskTriggers' tokens are
    read as the agent, never by the operator): the Role and RoleBinding the README shows,
    once the API server's authorizer knows of them."""
    ns, role = scene.namespace, role or f"read-{secret}"
    scene.kubectl(
        "create", "role", role, "--verb=get", "--resource=secrets", f"--resource-name={secret}"
    )
    scene.kubectl(
        "create", "rolebinding", role, f"--role={role}", f"--serviceaccount={ns}:{account}"
    )
    # The authorizer learns of the binding through a watch: wait until it answers yes.
    user = f"--as=system:serviceaccount:{ns}:{account}"
    wait_until(
        lambda: (
            scene.kubectl("auth", "can-i", "get", f"secret/{secret}", user, check=False).strip()
            == "yes"
        ),
        timeout=60,
        what=f"{account} may get Secret {secret}",
    )
