"""Deployment tools: list them, roll their pods (rollout restart), set their replicas."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field
from pydantic_core import to_jsonable_python

from mission_control.connectors.kubernetes import K8sDeployment
from mission_control.tools.base import ToolContext, ToolOutput
from mission_control.tools.formatting import table
from mission_control.tools.kubernetes.common import (
    KubernetesToolError,
    NamespacedArgs,
    ObjectName,
    age,
    kubernetes,
)

__all__ = [
    "MAX_REPLICAS",
    "DeploymentArgs",
    "ScaleDeploymentArgs",
    "list_deployments",
    "preview_restart",
    "preview_scale",
    "restart",
    "scale",
]

#: Upper bound of ``scale_k8s_deployment``: a typo must not ask the cluster for 1000 pods.
MAX_REPLICAS = 50


class DeploymentArgs(NamespacedArgs):
    """One deployment."""

    name: ObjectName = Field(description="The deployment's name.")


class ScaleDeploymentArgs(DeploymentArgs):
    """A deployment and its new size."""

    replicas: int = Field(
        ge=0, le=MAX_REPLICAS, description=f"Desired number of pods (0 to {MAX_REPLICAS})."
    )


def _replicas(deployment: K8sDeployment) -> str:
    return f"{deployment.desired} replicas ({deployment.ready} ready)"


async def list_deployments(args: NamespacedArgs, ctx: ToolContext) -> ToolOutput:
    deployments = await kubernetes(ctx).list_deployments(
        args.namespace, impersonate=ctx.impersonate
    )
    now = datetime.now(UTC)
    rows = [
        [
            d.name,
            f"{d.ready}/{d.desired}",
            d.updated,
            d.available,
            age(d.created, now=now),
            ",".join(d.images),
        ]
        for d in sorted(deployments, key=lambda d: d.name)
    ]
    text = table(
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "IMAGES"],
        rows,
        empty=f"no deployments in namespace {args.namespace}",
    )
    if rows:
        text = f"{len(rows)} deployments in namespace {args.namespace}\n{text}"
    return ToolOutput(text=text, raw=to_jsonable_python(deployments))


def _last_restart(deployment: K8sDeployment) -> str:
    if deployment.restarted_at is None:
        return "never restarted by a rollout restart"
    return f"last restarted {age(deployment.restarted_at, now=datetime.now(UTC))} ago"


async def _restartable(args: DeploymentArgs, ctx: ToolContext) -> K8sDeployment:
    deployment = await kubernetes(ctx).get_deployment(
        args.namespace, args.name, impersonate=ctx.impersonate
    )
    if deployment.paused:
        raise KubernetesToolError(
            f"deployment {args.namespace}/{args.name} is paused: resume its rollout first "
            "(a restart would not take effect)"
        )
    return deployment


async def preview_restart(args: DeploymentArgs, ctx: ToolContext) -> str:
    deployment = await _restartable(args, ctx)
    return (
        f"would restart deployment {args.namespace}/{args.name}: {_replicas(deployment)}, "
        f"{_last_restart(deployment)}"
    )


async def restart(args: DeploymentArgs, ctx: ToolContext) -> ToolOutput:
    before = await _restartable(args, ctx)
    after = await kubernetes(ctx).restart_deployment(
        args.namespace, args.name, impersonate=ctx.impersonate
    )
    stamp = f"{after.restarted_at:%Y-%m-%dT%H:%M:%SZ}" if after.restarted_at else "unknown"
    text = (
        f"restarted deployment {args.namespace}/{args.name}: {_replicas(before)} are being "
        f"replaced by new pods (restartedAt {stamp}); "
        "check progress with list_k8s_deployments"
    )
    return ToolOutput(text=text, raw=to_jsonable_python(after))


async def preview_scale(args: ScaleDeploymentArgs, ctx: ToolContext) -> str:
    deployment = await kubernetes(ctx).get_deployment(
        args.namespace, args.name, impersonate=ctx.impersonate
    )
    where = f"deployment {args.namespace}/{args.name}"
    if deployment.desired == args.replicas:
        return f"{where} already wants {_replicas(deployment)}: nothing would change"
    return f"would scale {where} from {_replicas(deployment)} to {args.replicas} replicas"


async def scale(args: ScaleDeploymentArgs, ctx: ToolContext) -> ToolOutput:
    connector = kubernetes(ctx)
    before = await connector.get_deployment(args.namespace, args.name, impersonate=ctx.impersonate)
    result = await connector.scale_deployment(
        args.namespace, args.name, replicas=args.replicas, impersonate=ctx.impersonate
    )
    text = (
        f"scaled deployment {args.namespace}/{args.name} from {before.desired} to "
        f"{result.desired} replicas ({before.ready} ready before the change)"
    )
    return ToolOutput(text=text, raw={"before": before.desired, **to_jsonable_python(result)})
