"""Pod and event tools against the real API server: listing, deletion, permissions, events.

There is no scheduler and no kubelet: pod tests create bare pods and set their status through
the status subresource.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mission_control.connectors.errors import ConnectorForbidden
from mission_control.tools.base import ToolContext
from tests.controlplane.launcher import Cluster
from tests.tools.kubernetes.helpers import (
    as_agent,
    call,
    container_status,
    create,
    event,
    eventually,
    get,
    pod,
    preview,
    set_pod_status,
)

pytestmark = pytest.mark.controlplane


async def test_list_pods_shows_crashloops_restarts_and_why(
    context: ToolContext, controlplane: Cluster, k8s_namespace: str
) -> None:
    create(
        controlplane,
        k8s_namespace,
        pod("web-0", labels={"app": "web"}),
        pod("web-1", labels={"app": "web"}),
        pod("cache-0", labels={"app": "cache"}),
    )
    crashing = {
        "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed"}
    }
    set_pod_status(
        controlplane, k8s_namespace, "web-0",
        {"phase": "Running",
         "containerStatuses": [container_status(ready=False, restarts=7, state=crashing)]},
    )  # fmt: skip
    set_pod_status(
        controlplane, k8s_namespace, "web-1",
        {"phase": "Running",
         "containerStatuses": [container_status(
             ready=True, restarts=0, state={"running": {"startedAt": "2025-01-01T00:00:00Z"}})]},
    )  # fmt: skip

    output = await call("list_k8s_pods", context, namespace=k8s_namespace, labelSelector="app=web")

    lines = output.text.splitlines()
    assert lines[0] == f"2 pods matching 'app=web' in namespace {k8s_namespace}, 1 not ready"
    assert lines[2].split()[:4] == ["web-0", "0/1", "CrashLoopBackOff", "7"]
    assert lines[2].endswith(
        "app: waiting CrashLoopBackOff (back-off 5m0s restarting failed); last exit 137 (OOMKilled)"
    )
    assert lines[3].split()[:4] == ["web-1", "1/1", "Running", "0"]
    crashed = output.raw[0]["containers"][0]
    assert (crashed["last_reason"], crashed["last_exit_code"]) == ("OOMKilled", 137)
    everything = await call("list_k8s_pods", context, namespace=k8s_namespace)
    assert "cache-0" in everything.text
    assert "Pending" in everything.text


async def test_delete_pod_preview_then_delete(
    context: ToolContext, controlplane: Cluster, k8s_namespace: str
) -> None:
    create(controlplane, k8s_namespace, pod("web-0"))

    text = await preview("delete_k8s_pod", context, namespace=k8s_namespace, name="web-0")
    assert text == (
        f"would delete pod {k8s_namespace}/web-0: Pending, 0/1 ready, 0 restarts, "
        "not scheduled; a bare pod: nothing will recreate it"
    )
    assert get(controlplane, k8s_namespace, "pods")["items"]  # still there

    output = await call("delete_k8s_pod", context, namespace=k8s_namespace, name="web-0")
    assert output.text.startswith(f"deleted pod {k8s_namespace}/web-0")
    await eventually(
        lambda: not get(controlplane, k8s_namespace, "pods")["items"], what="the pod to be gone"
    )


async def test_forbidden_calls_under_a_service_account_name_the_missing_permission(
    context: ToolContext, controlplane: Cluster, k8s_namespace: str
) -> None:
    create(controlplane, k8s_namespace, pod("web-0"))
    controlplane.kubectl("create", "serviceaccount", "agent", "-n", k8s_namespace)
    controlplane.kubectl(
        "create", "role", "read-pods", "-n", k8s_namespace, "--verb=get,list", "--resource=pods"
    )
    controlplane.kubectl(
        "create", "rolebinding", "agent-reads", "-n", k8s_namespace, "--role=read-pods",
        f"--serviceaccount={k8s_namespace}:agent",
    )  # fmt: skip
    agent = as_agent(context, k8s_namespace)

    with pytest.raises(ConnectorForbidden) as err:
        await call("delete_k8s_pod", agent, namespace=k8s_namespace, name="web-0")
    assert str(err.value) == (
        f"service account {k8s_namespace}/agent may not delete pods in namespace "
        f"{k8s_namespace} (RBAC): grant it a Role or remove serviceAccountName"
    )
    with pytest.raises(ConnectorForbidden, match="may not list deployments"):
        await call("list_k8s_deployments", agent, namespace=k8s_namespace)
    assert "web-0" in (await call("list_k8s_pods", agent, namespace=k8s_namespace)).text


# -- events -----------------------------------------------------------------------------------


async def test_events_newest_first_for_a_namespace_or_one_object(
    context: ToolContext, controlplane: Cluster, k8s_namespace: str
) -> None:
    now = datetime.now(UTC)
    web_0 = (k8s_namespace, "Pod", "web-0")
    backoff = "Back-off restarting failed container app"
    create(
        controlplane,
        k8s_namespace,
        event("e1", about=web_0, reason="Scheduled", seen=now - timedelta(hours=2)),
        event("e2", about=web_0, reason="BackOff", seen=now - timedelta(minutes=5),
              type="Warning", count=12, message=backoff),
        event("e3", about=(k8s_namespace, "Deployment", "web"), reason="ScalingReplicaSet",
              seen=now),
    )  # fmt: skip

    everything = await call("get_k8s_events", context, namespace=k8s_namespace)
    reasons = [line.split()[2] for line in everything.text.splitlines()[2:]]
    assert reasons == ["ScalingReplicaSet", "BackOff", "Scheduled"]

    for_pod = await call(
        "get_k8s_events", context, namespace=k8s_namespace, kind="Pod", name="web-0"
    )
    assert for_pod.text.splitlines()[0] == (
        f"events about Pod/web-0 in namespace {k8s_namespace}, newest first"
    )
    assert [e["reason"] for e in for_pod.raw] == ["BackOff", "Scheduled"]
    assert backoff in for_pod.text

    warnings = await call(
        "get_k8s_events", context, namespace=k8s_namespace, type="Warning", limit=5
    )
    assert [e["reason"] for e in warnings.raw] == ["BackOff"]
    assert warnings.raw[0]["count"] == 12

    newest = await call("get_k8s_events", context, namespace=k8s_namespace, limit=1)
    assert "(newest 1 of 3)" in newest.text.splitlines()[0]
