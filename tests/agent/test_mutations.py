"""Mutating calls against the real API server: allowed, previewed in a dry run, refused by RBAC.

Kubernetes tools always act as a ServiceAccount of the run's namespace, so the cluster's own
RBAC bounds what the agent can do, and a refusal reaches the model as a sentence it can act on.
"""

from __future__ import annotations

from typing import Any

import pytest

from mission_control.agent import AgentServices, drive_run
from mission_control.resources.toolpolicy import ToolPolicySpec
from mission_control.runs.resolve import run_policy
from tests.agent.conftest import AGENT, bind
from tests.agent.harness import RecordingReporter, ScriptedControl, run_request, tool_results
from tests.controlplane.launcher import Cluster
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import call, say
from tests.tools.kubernetes.helpers import create, deployment, eventually, get

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


def restart_task(model: str) -> dict[str, Any]:
    return {
        "prompt": "Restart the web deployment.",
        "tools": ["list_k8s_deployments", "restart_k8s_deployment"],
        "model": {"provider": "ollama", "name": model},
    }


def replicasets(cluster: Cluster, namespace: str) -> list[Any]:
    items: list[Any] = get(cluster, namespace, "replicasets", "-l", "app=web")["items"]
    return items


async def test_an_allowed_restart_makes_a_new_replicaset(
    services: AgentServices,
    controlplane: Cluster,
    agent_namespace: str,
    scripted_model: ScriptedModelFactory,
) -> None:
    ns = agent_namespace
    create(controlplane, ns, deployment("web"))
    await eventually(lambda: len(replicasets(controlplane, ns)) == 1, what="the first ReplicaSet")
    model = scripted_model(
        turns=[call("restart_k8s_deployment", namespace=ns, name="web"), say("Restarted web.")]
    )
    request = run_request(namespace=ns, task=restart_task(model))

    outcome = await drive_run(
        request=request, services=services, reporter=RecordingReporter(), control=ScriptedControl()
    )

    assert outcome.reason == "Succeeded"
    await eventually(lambda: len(replicasets(controlplane, ns)) == 2, what="a new ReplicaSet")
    [record] = await services.store.tool_calls.for_run(request.uid)
    assert (record.tool, record.decision, record.status) == (
        "restart_k8s_deployment",
        "Allow",
        "completed",
    )
    [result] = await tool_results(services, request.uid)
    assert result.startswith(f"restarted deployment {ns}/web")
    audit = await services.store.audit.entries(run_uid=request.uid)
    executed = [entry for entry in audit if entry.action == "tool.executed"]
    assert executed[0].details["identity"] == f"system:serviceaccount:{ns}:{AGENT}"


async def test_a_dry_run_previews_every_mutating_call_and_changes_nothing(
    services: AgentServices,
    controlplane: Cluster,
    agent_namespace: str,
    scripted_model: ScriptedModelFactory,
) -> None:
    ns = agent_namespace
    create(controlplane, ns, deployment("web", replicas=2))
    await eventually(lambda: len(replicasets(controlplane, ns)) == 1, what="the first ReplicaSet")
    before = get(controlplane, ns, "deployment", "web")
    model = scripted_model(
        turns=[call("restart_k8s_deployment", namespace=ns, name="web"), say("Would restart.")]
    )
    request = run_request(namespace=ns, task=restart_task(model), run={"dryRun": True})

    outcome = await drive_run(
        request=request, services=services, reporter=RecordingReporter(), control=ScriptedControl()
    )

    assert outcome.reason == "Succeeded"
    after = get(controlplane, ns, "deployment", "web")
    assert after["spec"] == before["spec"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert len(replicasets(controlplane, ns)) == 1
    [result] = await tool_results(services, request.uid)
    assert result.startswith(f"dry run: nothing was changed. would restart deployment {ns}/web")
    [record] = await services.store.tool_calls.for_run(request.uid)
    assert (record.decision, record.dry_run, record.status) == ("Preview", True, "completed")
    actions = [e.action for e in await services.store.audit.entries(run_uid=request.uid)]
    assert "tool.previewed" in actions
    assert "tool.executed" not in actions


async def test_a_forbidden_restart_reaches_the_model_as_a_sentence_and_changes_nothing(
    services: AgentServices,
    controlplane: Cluster,
    k8s_namespace: str,
    scripted_model: ScriptedModelFactory,
) -> None:
    ns = k8s_namespace
    bind(controlplane, ns, account="reader", cluster_role="view")
    create(controlplane, ns, deployment("web"))
    before = get(controlplane, ns, "deployment", "web")
    model = scripted_model(
        turns=[call("restart_k8s_deployment", namespace=ns, name="web"), say("I could not.")]
    )
    request = run_request(
        namespace=ns, task={**restart_task(model), "serviceAccountName": "reader"}
    )

    outcome = await drive_run(
        request=request, services=services, reporter=RecordingReporter(), control=ScriptedControl()
    )

    assert outcome.reason == "Succeeded"
    [result] = await tool_results(services, request.uid)
    assert result == (
        f"service account {ns}/reader may not patch deployments in namespace {ns} (RBAC): "
        "grant it a Role or remove serviceAccountName"
    )
    assert get(controlplane, ns, "deployment", "web")["spec"] == before["spec"]
    [record] = await services.store.tool_calls.for_run(request.uid)
    assert (record.status, record.error) == ("failed", result)


async def test_a_missing_service_account_says_how_to_create_and_bind_it(
    services: AgentServices,
    controlplane: Cluster,
    k8s_namespace: str,
    scripted_model: ScriptedModelFactory,
) -> None:
    ns = k8s_namespace
    model = scripted_model(turns=[call("list_k8s_deployments", namespace=ns), say("No access.")])
    request = run_request(namespace=ns, task=restart_task(model), service_account_exists=False)

    outcome = await drive_run(
        request=request, services=services, reporter=RecordingReporter(), control=ScriptedControl()
    )

    assert outcome.reason == "Succeeded"
    [result] = await tool_results(services, request.uid)
    assert f"service account {ns}/{AGENT}, which does not exist" in result
    assert f"kubectl create serviceaccount {AGENT} -n {ns}" in result
    assert f"--serviceaccount={ns}:{AGENT}" in result


async def test_a_policy_allowing_every_namespace_still_cannot_reach_past_the_service_account(
    services: AgentServices,
    controlplane: Cluster,
    agent_namespace: str,
    scripted_model: ScriptedModelFactory,
) -> None:
    ns = agent_namespace
    other = f"{ns}-other"
    controlplane.kubectl("create", "namespace", other)
    try:
        model = scripted_model(turns=[call("list_k8s_pods", namespace=other), say("Denied.")])
        task = {"prompt": "Look.", "tools": ["list_k8s_pods"],
                "model": {"provider": "ollama", "name": model}}  # fmt: skip
        policy = run_policy(
            namespace=ns, name="open", generation=1, spec=ToolPolicySpec(targetNamespaces=["*"])
        )
        request = run_request(namespace=ns, task=task, policy=policy)

        outcome = await drive_run(
            request=request,
            services=services,
            reporter=RecordingReporter(),
            control=ScriptedControl(),
        )
    finally:
        controlplane.kubectl("delete", "namespace", other, "--wait=false", check=False)

    assert outcome.reason == "Succeeded"
    [result] = await tool_results(services, request.uid)
    assert result == (
        f"service account {ns}/{AGENT} may not list pods in namespace {other} (RBAC): "
        "grant it a Role or remove serviceAccountName"
    )
