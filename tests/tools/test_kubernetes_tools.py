"""The seven Kubernetes tools, driven through the real API server of the local control plane.

There is no scheduler and no kubelet: pods of a Deployment stay Pending, so pod tests create
bare pods and set their status through the status subresource; logs come from a fake kubelet
registered as a Node, read through the API server's log proxy.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mission_control.connectors import Connectors
from mission_control.connectors.errors import ConnectorForbidden, ConnectorNotConfigured
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.tools.base import Tool, ToolContext, ToolOutput
from mission_control.tools.kubernetes import KUBERNETES_TOOLS, KubernetesToolError
from tests.controlplane.launcher import Cluster
from tests.fixtures.kubelet import KubeletNode

pytestmark = pytest.mark.controlplane

TOOLS: dict[str, Tool[Any]] = {tool.name: tool for tool in KUBERNETES_TOOLS}


@pytest.fixture
async def context(controlplane: Cluster) -> AsyncIterator[ToolContext]:
    connector = KubernetesConnector.from_kubeconfig(controlplane.kubeconfig)
    yield ToolContext(connectors=Connectors(kubernetes=connector))
    await connector.aclose()


async def call(tool_name: str, ctx: ToolContext, /, **arguments: Any) -> ToolOutput:
    tool = TOOLS[tool_name]
    return await tool.run(tool.parse_arguments(arguments), ctx)


async def preview(tool_name: str, ctx: ToolContext, /, **arguments: Any) -> str:
    tool = TOOLS[tool_name]
    assert tool.preview is not None
    return await tool.preview(tool.parse_arguments(arguments), ctx)


def as_agent(ctx: ToolContext, namespace: str) -> ToolContext:
    return ToolContext(
        connectors=ctx.connectors, impersonate=f"system:serviceaccount:{namespace}:agent"
    )


async def eventually(check: Callable[[], Any], *, what: str, within: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy, for at most ``within`` seconds."""
    deadline = time.monotonic() + within
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(0.2)
    return value


def create(cluster: Cluster, namespace: str, *objects: dict[str, Any]) -> None:
    manifest = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(manifest))


def get(cluster: Cluster, namespace: str, *what: str) -> dict[str, Any]:
    result = cluster.kubectl("get", "-n", namespace, *what, "-o", "json")
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def deployment(name: str, *, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": f"registry.lan/{name}:1.0"}]},
            },
        },
    }


def pod(name: str, *, labels: dict[str, str] | None = None, node: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "registry.lan/app:2.1"}]}
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec,
    }


def set_pod_status(cluster: Cluster, namespace: str, name: str, status: dict[str, Any]) -> None:
    cluster.kubectl(
        "patch", "pod", name, "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": status}),
    )  # fmt: skip


def container_status(*, ready: bool, restarts: int, state: dict[str, Any]) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": "app",
        "image": "registry.lan/app:2.1",
        "imageID": "",
        "ready": ready,
        "restartCount": restarts,
        "state": state,
    }
    if restarts:
        status["lastState"] = {
            "terminated": {
                "exitCode": 137,
                "reason": "OOMKilled",
                "startedAt": "2025-01-01T00:00:00Z",
                "finishedAt": "2025-01-01T00:01:00Z",
            }
        }
    return status


def event(
    name: str, *, about: tuple[str, str, str], reason: str, seen: datetime, **extra: Any
) -> Any:
    namespace, kind, object_name = about
    stamp = seen.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": {
            "kind": kind,
            "name": object_name,
            "namespace": namespace,
            "apiVersion": "v1",
        },
        "reason": reason,
        "message": extra.get("message", f"{reason} happened"),
        "type": extra.get("type", "Normal"),
        "count": extra.get("count", 1),
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "source": {"component": "kubelet"},
    }


# -- arguments and registration (no I/O) ------------------------------------------------------


def test_the_seven_tools_are_registered_with_fixed_risks() -> None:
    assert {name: tool.risk.value for name, tool in TOOLS.items()} == {
        "list_k8s_deployments": "READ_ONLY",
        "get_k8s_pod_logs": "READ_ONLY",
        "restart_k8s_deployment": "SAFE_MUTATE",
        "list_k8s_pods": "READ_ONLY",
        "get_k8s_events": "READ_ONLY",
        "scale_k8s_deployment": "SAFE_MUTATE",
        "delete_k8s_pod": "DESTRUCTIVE",
    }
    assert all(tool.connector == "kubernetes" for tool in KUBERNETES_TOOLS)


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_every_tool_reports_its_target_namespace(name: str) -> None:
    tool = TOOLS[name]
    arguments = {"namespace": "media", "name": "web", "replicas": 1}
    schema_fields = set(tool.json_schema()["properties"])
    parsed = tool.parse_arguments({k: v for k, v in arguments.items() if k in schema_fields})
    assert tool.target_namespace is not None
    assert tool.target_namespace(parsed) == "media"


def test_the_log_tool_offers_the_kubernetes_parameter_names() -> None:
    properties = TOOLS["get_k8s_pod_logs"].json_schema()["properties"]
    assert {"namespace", "name", "container", "tailLines", "sinceSeconds", "previous"} == set(
        properties
    )


def test_arguments_are_validated_before_any_io_naming_every_bad_field() -> None:
    tool = TOOLS["get_k8s_pod_logs"]
    with pytest.raises(Exception, match="invalid arguments for get_k8s_pod_logs") as err:
        tool.parse_arguments({"namespace": "Media_NS", "tail_lines": 5, "podName": "web"})
    message = str(err.value)
    for field in ("namespace", "tail_lines", "podName", "name: Field required"):
        assert field in message


def test_scaling_is_bounded() -> None:
    with pytest.raises(Exception, match="replicas: Input should be less than or equal to 50"):
        TOOLS["scale_k8s_deployment"].parse_arguments(
            {"namespace": "media", "name": "web", "replicas": 1000}
        )


async def test_a_missing_kubernetes_connector_is_reported_as_not_configured() -> None:
    with pytest.raises(ConnectorNotConfigured, match="KUBECONFIG"):
        await call("list_k8s_pods", ToolContext(connectors=Connectors()), namespace="media")


# -- deployments ------------------------------------------------------------------------------


async def test_list_deployments_shows_ready_of_desired_and_images(
    context: ToolContext, controlplane: Cluster, k8s_namespace: str
) -> None:
    create(controlplane, k8s_namespace, deployment("web", replicas=3), deployment("api"))
    output = await call("list_k8s_deployments", context, namespace=k8s_namespace)
    lines = output.text.splitlines()
    assert lines[0] == f"2 deployments in namespace {k8s_namespace}"
    assert lines[1].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "IMAGES"]
    assert lines[2].split()[:2] == ["api", "0/2"]
    assert lines[3].split()[:2] == ["web", "0/3"]
    assert lines[3].split()[-1] == "registry.lan/web:1.0"
    assert [d["name"] for d in output.raw] == ["api", "web"]


async def test_list_deployments_in_an_empty_namespace_says_so(
    context: ToolContext, k8s_namespace: str
) -> None:
    output = await call("list_k8s_deployments", context, namespace=k8s_namespace)
    assert output.text == f"no deployments in namespace {k8s_namespace}"


async def test_restart_stamps_the_pod_template_and_a_new_replicaset_appears(
    context: ToolContext, controlplane: Cluster, k8s_namespace: str
) -> None:
    create(controlplane, k8s_namespace, deployment("web"))

    def replicasets() -> list[Any]:
        items: list[Any] = get(controlplane, k8s_namespace, "replicasets", "-l", "app=web")["items"]
        return items

    await eventually(lambda: len(replicasets()) == 1, what="the first ReplicaSet")

    output = await call("restart_k8s_deployment", context, namespace=k8s_namespace, name="web")

    assert output.text.startswith(f"restarted deployment {k8s_namespace}/web: 2 replicas")
    template = get(controlplane, k8s_namespace, "deployment", "web")["spec"]["template"]
    stamp = template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
    restarted = datetime.fromisoformat(stamp)
    assert abs(datetime.now(UTC) - restarted) < timedelta(minutes=1)
    await eventually(lambda: len(replicasets()) == 2, what="a second ReplicaSet after restart")


async def test_restart_preview_describes_without_changing_anything(
    context: ToolContext, controlplane: Cluster, k8s_namespace: str
) -> None:
    create(controlplane, k8s_namespace, deployment("web", replicas=3))
    text = await preview("restart_k8s_deployment", context, namespace=k8s_namespace, name="web")
    assert text == (
        f"would restart deployment {k8s_namespace}/web: 3 replicas (0 ready), "
        "never restarted by a rollout restart"
    )
    await call("restart_k8s_deployment", context, namespace=k8s_namespace, name="web")
    text = await preview("restart_k8s_deployment", context, namespace=k8s_namespace, name="web")
    assert re.fullmatch(r"would restart .*: 3 replicas \(0 ready\), last restarted \d+s ago", text)
    annotations = get(controlplane, k8s_namespace, "deployment", "web")["spec"]["template"][
        "metadata"
    ].get("annotations", {})
    assert list(annotations) == ["kubectl.kubernetes.io/restartedAt"]  # one restart, not two


async def test_restarting_a_paused_deployment_is_refused(
    context: ToolContext, controlplane: Cluster, k8s_namespace: str
) -> None:
    paused = deployment("web")
    paused["spec"]["paused"] = True
    create(controlplane, k8s_namespace, paused)
    with pytest.raises(KubernetesToolError, match="is paused: resume its rollout first"):
        await call("restart_k8s_deployment", context, namespace=k8s_namespace, name="web")


async def test_scale_sets_replicas_and_its_preview_changes_nothing(
    context: ToolContext, controlplane: Cluster, k8s_namespace: str
) -> None:
    create(controlplane, k8s_namespace, deployment("web", replicas=3))
    args = {"namespace": k8s_namespace, "name": "web", "replicas": 1}

    text = await preview("scale_k8s_deployment", context, **args)
    assert text == (
        f"would scale deployment {k8s_namespace}/web from 3 replicas (0 ready) to 1 replicas"
    )
    assert get(controlplane, k8s_namespace, "deployment", "web")["spec"]["replicas"] == 3

    output = await call("scale_k8s_deployment", context, **args)
    assert output.text.startswith(f"scaled deployment {k8s_namespace}/web from 3 to 1 replicas")
    assert get(controlplane, k8s_namespace, "deployment", "web")["spec"]["replicas"] == 1
    assert output.raw["before"] == 3
    assert output.raw["desired"] == 1


# -- pods -------------------------------------------------------------------------------------


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


# -- logs through the API server and a fake kubelet -------------------------------------------


async def test_logs_are_read_through_the_api_server_with_tail_since_and_previous(
    context: ToolContext,
    controlplane: Cluster,
    k8s_namespace: str,
    fake_kubelet_node: KubeletNode,
) -> None:
    create(controlplane, k8s_namespace, pod("web-0", node=fake_kubelet_node.name))
    kubelet = fake_kubelet_node.kubelet
    kubelet.write(
        namespace=k8s_namespace, pod="web-0", container="app",
        lines=["booting", "old line"], ago=timedelta(hours=1),
    )  # fmt: skip
    kubelet.write(
        namespace=k8s_namespace, pod="web-0", container="app",
        lines=["listening on :8080", '{"level":"error","msg":"db unreachable"}'],
    )  # fmt: skip
    kubelet.write(
        namespace=k8s_namespace, pod="web-0", container="app",
        lines=["panic: out of memory"], previous=True,
    )  # fmt: skip

    tail = await call(
        "get_k8s_pod_logs", context, namespace=k8s_namespace, name="web-0", tailLines=3
    )
    assert tail.text == (
        f"log of pod {k8s_namespace}/web-0, 3 lines:\n"
        'old line\nlistening on :8080\n{"level":"error","msg":"db unreachable"}\n'
    )
    recent = await call(
        "get_k8s_pod_logs", context, namespace=k8s_namespace, name="web-0",
        container="app", sinceSeconds=600,
    )  # fmt: skip
    assert recent.raw["log"] == 'listening on :8080\n{"level":"error","msg":"db unreachable"}\n'
    crashed = await call(
        "get_k8s_pod_logs", context, namespace=k8s_namespace, name="web-0", previous=True
    )
    assert crashed.text.endswith("(previous instance), 1 lines:\npanic: out of memory\n")

    queries = [request.query for request in kubelet.log_requests()]
    assert queries[0]["tailLines"] == ["3"]
    assert queries[1]["sinceSeconds"] == ["600"]
    assert queries[2]["previous"] == ["true"]


async def test_long_logs_keep_the_newest_lines_for_the_model(
    context: ToolContext,
    controlplane: Cluster,
    k8s_namespace: str,
    fake_kubelet_node: KubeletNode,
) -> None:
    create(controlplane, k8s_namespace, pod("web-0", node=fake_kubelet_node.name))
    lines = [f"line {i:05d} " + "x" * 100 for i in range(2000)]
    fake_kubelet_node.kubelet.write(
        namespace=k8s_namespace, pod="web-0", container="app", lines=lines
    )
    output = await call(
        "get_k8s_pod_logs", context, namespace=k8s_namespace, name="web-0", tailLines=2000
    )
    assert output.text.rstrip().endswith(lines[-1])
    assert "earlier lines not shown" in output.text
    assert len(output.text) < 13 * 1024
    assert output.for_model() == output.text
    assert output.raw["log"].count("\n") == 2000


async def test_logs_of_an_unscheduled_pod_say_why_there_are_none(
    context: ToolContext, controlplane: Cluster, k8s_namespace: str
) -> None:
    create(controlplane, k8s_namespace, pod("web-0"))
    output = await call("get_k8s_pod_logs", context, namespace=k8s_namespace, name="web-0")
    assert output.text == (
        f"no log for pod {k8s_namespace}/web-0: it is not scheduled to a node yet (Pending)"
    )
