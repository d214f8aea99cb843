"""Scenario 6, Kubernetes part: the agent acts as a ServiceAccount of the run's namespace.

A ServiceAccount that may only read cannot restart anything: the model gets the RBAC refusal
as a sentence naming the identity, the verb, the resource and the fix, and nothing changes. A
missing ServiceAccount is explained with the commands that create and bind it. A policy that
allows every namespace still cannot reach past the ServiceAccount's rights.
"""

from __future__ import annotations

import pytest

from tests.e2e.harness import AGENT_SERVICE_ACCOUNT, Scene, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import call, say
from tests.tools.kubernetes.helpers import deployment

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


def test_a_read_only_service_account_cannot_restart_and_the_model_is_told_why(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace  # the agent's ServiceAccount is bound to view only
    scene.apply(deployment("web", replicas=1))
    before = scene.get("deployment", "web")
    model = scripted_model(
        turns=[call("restart_k8s_deployment", namespace=ns, name="web"), say("I may not.")]
    )

    scene.apply(
        task("restart", model=model, tools=["restart_k8s_deployment"]),
        taskrun("restart-1", task_name="restart"),
    )
    scene.wait("restart-1")

    assert scene.tool_results("restart-1") == [
        f"service account {ns}/{AGENT_SERVICE_ACCOUNT} may not patch deployments in namespace "
        f"{ns} (RBAC): grant it a Role or remove serviceAccountName"
    ]
    assert scene.get("deployment", "web")["spec"] == before["spec"]


def test_a_missing_service_account_is_explained_with_the_commands_that_fix_it(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    model = scripted_model(turns=[call("list_k8s_pods", namespace=ns), say("No access.")])

    scene.apply(
        task("look", model=model, serviceAccountName="ghost"),
        taskrun("look-1", task_name="look"),
    )
    scene.wait("look-1")

    (result,) = scene.tool_results("look-1")
    assert f"service account {ns}/ghost, which does not exist" in result
    assert f"kubectl create serviceaccount ghost -n {ns}" in result


def test_a_policy_open_to_every_namespace_cannot_reach_past_the_service_account(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    model = scripted_model(turns=[call("list_k8s_pods", namespace="kube-system"), say("Denied.")])
    scene.apply(
        {
            "apiVersion": "missioncontrol.dev/v1alpha1",
            "kind": "ToolPolicy",
            "metadata": {"name": "default"},
            "spec": {"targetNamespaces": ["*"]},
        },
        task("peek", model=model),
        taskrun("peek-1", task_name="peek"),
    )
    scene.wait("peek-1")

    (result,) = scene.tool_results("peek-1")
    assert result.startswith(
        f"service account {scene.namespace}/{AGENT_SERVICE_ACCOUNT} may not list pods in "
        "namespace kube-system (RBAC)"
    )
