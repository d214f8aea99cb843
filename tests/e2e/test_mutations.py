"""Scenarios 2, 3 (basic) and 9: mutations, approvals with ``kubectl patch``, and dry runs.

The agent's ServiceAccount is bound to ``edit`` in the test's namespace, so the cluster's RBAC
lets it act there; the ToolPolicy decides what it may do.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from tests.e2e.harness import AGENT_SERVICE_ACCOUNT, Scene, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import wait_until
from tests.support.scripted_model import call, say
from tests.tools.kubernetes.helpers import deployment, pod

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


def grant_edit(scene: Scene) -> None:
    scene.kubectl(
        "create",
        "rolebinding",
        f"{AGENT_SERVICE_ACCOUNT}-edit",
        "--clusterrole=edit",
        f"--serviceaccount={scene.namespace}:{AGENT_SERVICE_ACCOUNT}",
    )


def replicasets(scene: Scene, app: str) -> list[dict[str, Any]]:
    listed = json.loads(scene.kubectl("get", "replicasets", "-l", f"app={app}", "-o", "json"))
    return list(listed["items"])


def whoami(scene: Scene) -> str:
    return scene.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")


def audit_actions(scene: Scene, uid: str) -> list[str]:
    with psycopg.connect(scene.database_url) as db:
        rows = db.execute(
            "SELECT action FROM audit_entries WHERE run_uid = %s ORDER BY id", (uid,)
        ).fetchall()
    return [row[0] for row in rows]


def test_an_allowed_restart_makes_a_new_replicaset(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    grant_edit(scene)
    scene.apply(deployment("web", replicas=1))
    wait_until(lambda: len(replicasets(scene, "web")) == 1, timeout=30, what="the first ReplicaSet")
    model = scripted_model(
        turns=[call("restart_k8s_deployment", namespace=ns, name="web"), say("Restarted web.")]
    )

    scene.apply(
        task(
            "restart",
            model=model,
            prompt="Restart the web deployment.",
            tools=["list_k8s_deployments", "restart_k8s_deployment"],
        ),
        taskrun("restart-1", task_name="restart"),
    )
    scene.wait("restart-1")

    wait_until(lambda: len(replicasets(scene, "web")) == 2, timeout=30, what="a new ReplicaSet")
    status = scene.get("taskrun", "restart-1")["status"]
    assert status["result"]["summary"] == "Restarted web."
    uid = scene.get("taskrun", "restart-1")["metadata"]["uid"]
    assert "tool.executed" in audit_actions(scene, uid)


def test_a_destructive_call_waits_for_an_approval_given_with_kubectl_patch(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    grant_edit(scene)
    scene.apply(pod("victim-0"))
    model = scripted_model(
        turns=[call("delete_k8s_pod", namespace=ns, name="victim-0"), say("Deleted victim-0.")]
    )
    scene.apply(
        task(
            "cleanup",
            model=model,
            prompt="Delete the pod victim-0.",
            tools=["list_k8s_pods", "delete_k8s_pod"],
        ),
        taskrun("cleanup-1", task_name="cleanup"),
    )

    scene.wait_for("cleanup-1", jsonpath="{.status.conditions[0].reason}", value="AwaitingApproval")
    pending = scene.get("taskrun", "cleanup-1")["status"]["pendingApproval"]
    assert (pending["tool"], pending["risk"]) == ("delete_k8s_pod", "DESTRUCTIVE")
    assert json.loads(pending["arguments"]) == {"namespace": ns, "name": "victim-0"}
    assert pending["argsDigest"].startswith("sha256:")
    assert "victim-0" in scene.kubectl("get", "pods", "-o", "name")  # nothing happened yet
    approval = {
        "toolCallId": pending["toolCallId"],
        "decision": "Approve",
        "by": whoami(scene),
        "argsDigest": pending["argsDigest"],
        "message": "ok, it is stuck",
    }
    scene.kubectl(
        "patch", "taskrun", "cleanup-1", "--type=merge", "-p",
        json.dumps({"spec": {"approvals": [approval]}}),
    )  # fmt: skip
    scene.wait("cleanup-1")

    assert "victim-0" not in scene.kubectl("get", "pods", "-o", "name")
    status = scene.get("taskrun", "cleanup-1")["status"]
    assert status["result"]["summary"] == "Deleted victim-0."
    assert "pendingApproval" not in status
    reasons = [reason for _, reason, _ in scene.events("cleanup-1")]
    assert reasons == ["Started", "AwaitingApproval", "Approved", "Succeeded"]
    uid = scene.get("taskrun", "cleanup-1")["metadata"]["uid"]
    actions = audit_actions(scene, uid)
    assert actions.index("tool.held") < actions.index("tool.approved")
    assert actions.index("tool.approved") < actions.index("tool.executed")


def test_a_rejection_goes_back_to_the_model_and_the_run_completes(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    grant_edit(scene)
    scene.apply(pod("keeper-0"))
    model = scripted_model(
        turns=[
            call("delete_k8s_pod", namespace=ns, name="keeper-0"),
            say("The deletion was rejected; keeper-0 stays."),
        ]
    )
    scene.apply(
        task("tidy", model=model, prompt="Delete keeper-0.", tools=["delete_k8s_pod"]),
        taskrun("tidy-1", task_name="tidy"),
    )
    scene.wait_for("tidy-1", jsonpath="{.status.conditions[0].reason}", value="AwaitingApproval")
    pending = scene.get("taskrun", "tidy-1")["status"]["pendingApproval"]

    rejection = {
        "toolCallId": pending["toolCallId"],
        "decision": "Reject",
        "by": whoami(scene),
        "message": "not during business hours",
    }
    scene.kubectl(
        "patch", "taskrun", "tidy-1", "--type=merge", "-p",
        json.dumps({"spec": {"approvals": [rejection]}}),
    )  # fmt: skip
    scene.wait("tidy-1")

    assert "keeper-0" in scene.kubectl("get", "pods", "-o", "name")
    status = scene.get("taskrun", "tidy-1")["status"]
    assert status["result"]["summary"] == "The deletion was rejected; keeper-0 stays."
    reasons = [reason for _, reason, _ in scene.events("tidy-1")]
    assert reasons == ["Started", "AwaitingApproval", "Rejected", "Succeeded"]
    uid = scene.get("taskrun", "tidy-1")["metadata"]["uid"]
    with psycopg.connect(scene.database_url) as db:
        row = db.execute(
            "SELECT payload FROM task_events WHERE run_uid = %s AND type = 'tool.result' "
            "ORDER BY seq LIMIT 1",
            (uid,),
        ).fetchone()
    assert row is not None
    assert "not during business hours" in json.dumps(row[0])


def test_a_dry_run_previews_every_mutating_call_and_changes_nothing(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    grant_edit(scene)
    scene.apply(deployment("api", replicas=1), pod("api-extra"))
    wait_until(lambda: len(replicasets(scene, "api")) == 1, timeout=30, what="the first ReplicaSet")
    before = scene.get("deployment", "api")
    scene.apply(
        {
            "apiVersion": "missioncontrol.dev/v1alpha1",
            "kind": "ToolPolicy",
            "metadata": {"name": "default"},
            "spec": {"defaults": {"destructive": "Allow"}},
        }
    )
    model = scripted_model(
        turns=[
            call("restart_k8s_deployment", namespace=ns, name="api"),
            call("delete_k8s_pod", namespace=ns, name="api-extra"),
            say("Would restart api and delete api-extra."),
        ]
    )

    scene.apply(
        task(
            "fix-api",
            model=model,
            prompt="Fix api.",
            tools=["restart_k8s_deployment", "delete_k8s_pod"],
        ),
        taskrun("fix-api-1", task_name="fix-api", dryRun=True),
    )
    scene.wait("fix-api-1")

    after = scene.get("deployment", "api")
    assert after["spec"] == before["spec"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert len(replicasets(scene, "api")) == 1
    assert "api-extra" in scene.kubectl("get", "pods", "-o", "name")
    uid = scene.get("taskrun", "fix-api-1")["metadata"]["uid"]
    actions = audit_actions(scene, uid)
    assert actions.count("tool.previewed") == 2
    assert "tool.executed" not in actions


def test_cancelling_a_run_that_waits_for_approval_ends_it_at_once(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    scene.apply(pod("spared-0"))
    model = scripted_model(
        turns=[call("delete_k8s_pod", namespace=ns, name="spared-0"), say("unreachable")]
    )
    scene.apply(
        task("purge", model=model, prompt="Delete spared-0.", tools=["delete_k8s_pod"]),
        taskrun("purge-1", task_name="purge"),
    )
    scene.wait_for("purge-1", jsonpath="{.status.conditions[0].reason}", value="AwaitingApproval")

    scene.kubectl(
        "patch", "taskrun", "purge-1", "--type=merge",
        "-p", '{"spec":{"status":"Cancelled","statusMessage":"wrong pod"}}',
    )  # fmt: skip
    scene.wait("purge-1", condition="Succeeded=false")

    condition = scene.get("taskrun", "purge-1")["status"]["conditions"][0]
    assert condition["reason"] == "Cancelled"
    # Who: the client that wrote spec.status (managedFields), and the user's words.
    assert "by kubectl-patch" in condition["message"]
    assert 'saying "wrong pod"' in condition["message"]
    assert "spared-0" in scene.kubectl("get", "pods", "-o", "name")
    assert [reason for _, reason, _ in scene.events("purge-1")][-1] == "Cancelled"
