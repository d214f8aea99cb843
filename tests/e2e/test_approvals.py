"""Scenario 3, beyond approve and reject: approvals people can trust, end to end.

An approval in someone else's name is refused by the API server; an approval whose
``argsDigest`` does not match the pending call is ignored and reported; ``mission-control
approve`` (what ``kubectl mc approve`` runs) approves exactly the call shown, as the caller.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.e2e.harness import AGENT_SERVICE_ACCOUNT, Scene, mission_control, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import wait_until
from tests.support.scripted_model import call, say
from tests.tools.kubernetes.helpers import pod

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


def held_run(scene: Scene, scripted_model: ScriptedModelFactory, *, name: str) -> dict[str, str]:
    """A run holding ``delete_k8s_pod`` of pod ``NAME-pod`` for approval; its pending call."""
    ns = scene.namespace
    scene.kubectl(
        "create", "rolebinding", f"{name}-edit", "--clusterrole=edit",
        f"--serviceaccount={ns}:{AGENT_SERVICE_ACCOUNT}",
    )  # fmt: skip
    scene.apply(pod(f"{name}-pod"))
    model = scripted_model(
        turns=[call("delete_k8s_pod", namespace=ns, name=f"{name}-pod"), say("Done.")]
    )
    scene.apply(
        task(name, model=model, prompt="Delete the pod.", tools=["delete_k8s_pod"]),
        taskrun(f"{name}-1", task_name=name),
    )
    scene.wait_for(f"{name}-1", jsonpath="{.status.conditions[0].reason}", value="AwaitingApproval")
    pending: dict[str, str] = scene.get("taskrun", f"{name}-1")["status"]["pendingApproval"]
    return pending


def patch_approval(
    scene: Scene, run: str, approval: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return scene.cluster.kubectl(
        "patch", "taskrun", run, "-n", scene.namespace, "--type=merge",
        "-p", json.dumps({"spec": {"approvals": [approval]}}), check=False,
    )  # fmt: skip


def test_an_approval_in_someone_elses_name_is_refused_by_the_api_server(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    pending = held_run(scene, scripted_model, name="forged")

    refused = patch_approval(
        scene,
        "forged-1",
        {"toolCallId": pending["toolCallId"], "decision": "Approve", "by": "someone-else"},
    )

    assert refused.returncode != 0
    assert "someone-else" in refused.stderr, refused.stderr
    assert scene.get("taskrun", "forged-1")["spec"].get("approvals") is None
    assert "forged-pod" in scene.kubectl("get", "pods", "-o", "name")


def test_an_approval_of_other_arguments_is_ignored_and_reported(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    pending = held_run(scene, scripted_model, name="stale")
    me = scene.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")

    stale = "sha256:" + "0" * 64
    applied = patch_approval(
        scene,
        "stale-1",
        {"toolCallId": pending["toolCallId"], "decision": "Approve", "by": me, "argsDigest": stale},
    )
    assert applied.returncode == 0, applied.stderr

    def reported() -> list[str]:
        return [m for _, reason, m in scene.events("stale-1") if reason == "ApprovalIgnored"]

    wait_until(lambda: bool(reported()), timeout=30, what="an ApprovalIgnored Event")
    ignored = reported()
    assert "digest" in ignored[0].lower(), ignored
    assert "stale-pod" in scene.kubectl("get", "pods", "-o", "name")
    assert (
        scene.get("taskrun", "stale-1")["status"]["pendingApproval"]["toolCallId"]
        == (pending["toolCallId"])
    )


def test_mission_control_approve_approves_the_call_shown_as_the_caller(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    held_run(scene, scripted_model, name="cli")

    approved = subprocess.run(
        [mission_control(), "approve", "cli-1", "-n", scene.namespace, "-m", "go ahead"],
        env={**os.environ, "KUBECONFIG": str(scene.cluster.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert approved.returncode == 0, approved.stderr
    scene.wait("cli-1")

    assert "cli-pod" not in scene.kubectl("get", "pods", "-o", "name")
    (entry,) = scene.get("taskrun", "cli-1")["spec"]["approvals"]
    assert entry["decision"] == "Approve"
    assert entry["argsDigest"].startswith("sha256:")
    reasons = [reason for _, reason, _ in scene.events("cli-1")]
    assert reasons == ["Started", "AwaitingApproval", "Approved", "Succeeded"]
