"""Shared helpers of the Kubernetes tool tests: calling tools, building and reading objects."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mission_control.tools.base import Tool, ToolContext, ToolOutput
from mission_control.tools.kubernetes import KUBERNETES_TOOLS
from tests.controlplane.launcher import Cluster

TOOLS: dict[str, Tool[Any]] = {tool.name: tool for tool in KUBERNETES_TOOLS}


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
