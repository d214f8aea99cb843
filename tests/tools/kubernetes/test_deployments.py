"""Deployment tools against the real API server: list, restart, scale and their previews."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mission_control.tools.base import ToolContext
from mission_control.tools.kubernetes import KubernetesToolError
from tests.controlplane.launcher import Cluster
from tests.tools.kubernetes.helpers import call, create, deployment, eventually, get, preview

pytestmark = pytest.mark.controlplane


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
