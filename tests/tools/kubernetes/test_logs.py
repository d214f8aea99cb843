"""Pod logs read through the API server's log proxy from a fake kubelet registered as a Node."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mission_control.tools.base import ToolContext
from tests.controlplane.launcher import Cluster
from tests.fixtures.kubelet import KubeletNode
from tests.tools.kubernetes.helpers import call, create, pod

pytestmark = pytest.mark.controlplane


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
