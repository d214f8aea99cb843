"""Kubernetes tools: deployments, pods, logs and events in one namespace at a time.

Every tool names its namespace, so the policy can check it against ``targetNamespaces``
before the call, and acts with the run's identity (``ToolContext.impersonate``), so the
cluster's own RBAC bounds it too. Output for the model is a compact table of the fields that
matter; the full parsed result goes to ``ToolOutput.raw`` for the journal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import to_jsonable_python

from mission_control.connectors.errors import ConnectorNotConfigured
from mission_control.connectors.factory import MISSING_SETTINGS
from mission_control.connectors.kubernetes import (
    K8sDeployment,
    K8sEvent,
    K8sPod,
    KubernetesConnector,
)
from mission_control.errors import PermanentError
from mission_control.tools.base import RiskLevel, Tool, ToolContext, ToolOutput
from mission_control.tools.formatting import MAX_ROWS, human_duration, table

__all__ = ["KUBERNETES_TOOLS", "MAX_REPLICAS", "KubernetesToolError"]

#: Upper bound of ``scale_k8s_deployment``: a typo must not ask the cluster for 1000 pods.
MAX_REPLICAS = 50
#: Log text kept for the model (the newest lines; the rest is cut with a marker).
LOG_TEXT_LIMIT = 12 * 1024
#: Bound of a free-text note (event message, why a container waits) in a table row.
NOTE_LIMIT = 300

Namespace = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
]
ObjectName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253),
]
ContainerName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
]
Kind = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]*$", max_length=63)]


class KubernetesToolError(PermanentError):
    """The call cannot be done as asked (e.g. restarting a paused deployment)."""


def _kubernetes(ctx: ToolContext) -> KubernetesConnector:
    if ctx.connectors.kubernetes is None:
        raise ConnectorNotConfigured(
            f"Kubernetes is not configured: {MISSING_SETTINGS['kubernetes']}"
        )
    return ctx.connectors.kubernetes


def _age(moment: datetime | None, *, now: datetime) -> str:
    if moment is None:
        return "-"
    # At least 1s: a zero (or, with clock skew, negative) age would print as "-".
    return human_duration(max(1.0, (now - moment).total_seconds()))


def _table_with_notes(
    headers: list[str], rows: list[list[object]], *, notes: list[str], empty: str
) -> str:
    """A table plus a last free-text column that is not cut to the table's cell width.

    Event messages and container reasons are what a diagnosis hinges on, so they get up to
    ``NOTE_LIMIT`` characters; being last, they need no padding.
    """
    text = table(headers[:-1], rows, empty=empty)
    if not rows:
        return text
    lines = text.splitlines()
    shown = min(len(rows), MAX_ROWS) + 1  # the header and the rows table() kept
    width = max(len(line) for line in lines[:shown])
    cells = [headers[-1], *(" ".join(note.split())[:NOTE_LIMIT] or "-" for note in notes)]
    body = [
        f"{line.ljust(width)}  {cell}" for line, cell in zip(lines[:shown], cells, strict=False)
    ]
    return "\n".join(body + lines[shown:])


# -- arguments -------------------------------------------------------------------------------


class NamespacedArgs(BaseModel):
    """Arguments of every Kubernetes tool: the namespace it works in."""

    model_config = ConfigDict(extra="forbid")

    namespace: Namespace = Field(description="The Kubernetes namespace.")


def _target_namespace(args: NamespacedArgs) -> str:
    return args.namespace


class ListPodsArgs(NamespacedArgs):
    """Which pods to list."""

    label_selector: str | None = Field(
        default=None,
        alias="labelSelector",
        max_length=1024,
        description="Only pods matching this label selector, e.g. 'app=web,tier!=cache'.",
    )


class DeploymentArgs(NamespacedArgs):
    """One deployment."""

    name: ObjectName = Field(description="The deployment's name.")


class ScaleDeploymentArgs(DeploymentArgs):
    """A deployment and its new size."""

    replicas: int = Field(
        ge=0, le=MAX_REPLICAS, description=f"Desired number of pods (0 to {MAX_REPLICAS})."
    )


class PodArgs(NamespacedArgs):
    """One pod."""

    name: ObjectName = Field(description="The pod's name.")


class PodLogsArgs(PodArgs):
    """Which part of which container's log."""

    container: ContainerName | None = Field(
        default=None, description="Container name; required when the pod has several."
    )
    tail_lines: int = Field(
        default=200, ge=1, le=5000, alias="tailLines", description="Only the last N lines."
    )
    since_seconds: int | None = Field(
        default=None,
        ge=1,
        le=7 * 86400,
        alias="sinceSeconds",
        description="Only lines written in the last N seconds.",
    )
    previous: bool = Field(
        default=False,
        description="Log of the previous (crashed) instance of the container instead.",
    )


class EventsArgs(NamespacedArgs):
    """Which events: a whole namespace, or one object's."""

    kind: Kind | None = Field(
        default=None, description="Only events about objects of this kind, e.g. Pod, Deployment."
    )
    name: ObjectName | None = Field(
        default=None, description="Only events about the object with this name."
    )
    type: Annotated[str, StringConstraints(pattern=r"^(Normal|Warning)$")] | None = Field(
        default=None, description="Only 'Warning' or only 'Normal' events."
    )
    limit: int = Field(default=50, ge=1, le=200, description="At most this many, newest first.")


# -- deployments ----------------------------------------------------------------------------


def _replicas(deployment: K8sDeployment) -> str:
    return f"{deployment.desired} replicas ({deployment.ready} ready)"


async def _list_deployments(args: NamespacedArgs, ctx: ToolContext) -> ToolOutput:
    deployments = await _kubernetes(ctx).list_deployments(
        args.namespace, impersonate=ctx.impersonate
    )
    now = datetime.now(UTC)
    rows = [
        [
            d.name,
            f"{d.ready}/{d.desired}",
            d.updated,
            d.available,
            _age(d.created, now=now),
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
    return f"last restarted {_age(deployment.restarted_at, now=datetime.now(UTC))} ago"


async def _restartable(args: DeploymentArgs, ctx: ToolContext) -> K8sDeployment:
    deployment = await _kubernetes(ctx).get_deployment(
        args.namespace, args.name, impersonate=ctx.impersonate
    )
    if deployment.paused:
        raise KubernetesToolError(
            f"deployment {args.namespace}/{args.name} is paused: resume its rollout first "
            "(a restart would not take effect)"
        )
    return deployment


async def _preview_restart(args: DeploymentArgs, ctx: ToolContext) -> str:
    deployment = await _restartable(args, ctx)
    return (
        f"would restart deployment {args.namespace}/{args.name}: {_replicas(deployment)}, "
        f"{_last_restart(deployment)}"
    )


async def _restart(args: DeploymentArgs, ctx: ToolContext) -> ToolOutput:
    before = await _restartable(args, ctx)
    after = await _kubernetes(ctx).restart_deployment(
        args.namespace, args.name, impersonate=ctx.impersonate
    )
    stamp = f"{after.restarted_at:%Y-%m-%dT%H:%M:%SZ}" if after.restarted_at else "unknown"
    text = (
        f"restarted deployment {args.namespace}/{args.name}: {_replicas(before)} are being "
        f"replaced by new pods (restartedAt {stamp}); "
        "check progress with list_k8s_deployments"
    )
    return ToolOutput(text=text, raw=to_jsonable_python(after))


async def _preview_scale(args: ScaleDeploymentArgs, ctx: ToolContext) -> str:
    deployment = await _kubernetes(ctx).get_deployment(
        args.namespace, args.name, impersonate=ctx.impersonate
    )
    where = f"deployment {args.namespace}/{args.name}"
    if deployment.desired == args.replicas:
        return f"{where} already wants {_replicas(deployment)}: nothing would change"
    return f"would scale {where} from {_replicas(deployment)} to {args.replicas} replicas"


async def _scale(args: ScaleDeploymentArgs, ctx: ToolContext) -> ToolOutput:
    connector = _kubernetes(ctx)
    before = await connector.get_deployment(args.namespace, args.name, impersonate=ctx.impersonate)
    scale = await connector.scale_deployment(
        args.namespace, args.name, replicas=args.replicas, impersonate=ctx.impersonate
    )
    text = (
        f"scaled deployment {args.namespace}/{args.name} from {before.desired} to "
        f"{scale.desired} replicas ({before.ready} ready before the change)"
    )
    return ToolOutput(text=text, raw={"before": before.desired, **to_jsonable_python(scale)})


# -- pods -----------------------------------------------------------------------------------


def _pod_details(pod: K8sPod) -> str:
    """Why a pod is not healthy, container by container; empty when all are running and ready."""
    notes = []
    for c in pod.containers:
        if c.ready or (c.init and c.state == "terminated" and c.exit_code == 0):
            continue
        note = f"{c.name}: {c.state}" + (f" {c.reason}" if c.reason else "")
        if c.message:
            note += f" ({c.message})"
        if c.last_reason or c.last_exit_code is not None:
            note += f"; last exit {c.last_exit_code} ({c.last_reason or 'unknown'})"
        notes.append(note)
    if not notes and pod.message:
        notes.append(pod.message)
    return " | ".join(notes)


def _pod_state(pod: K8sPod) -> str:
    owner = f"owned by {pod.owner}" if pod.owner else "a bare pod: nothing will recreate it"
    node = f"node {pod.node}" if pod.node else "not scheduled"
    return f"{pod.status}, {pod.ready}/{pod.total} ready, {pod.restarts} restarts, {node}; {owner}"


async def _list_pods(args: ListPodsArgs, ctx: ToolContext) -> ToolOutput:
    pods = await _kubernetes(ctx).list_pods(
        args.namespace, label_selector=args.label_selector, impersonate=ctx.impersonate
    )
    now = datetime.now(UTC)
    pods = sorted(pods, key=lambda p: p.name)
    rows = [
        [
            p.name,
            f"{p.ready}/{p.total}",
            p.status,
            p.restarts,
            _age(p.created, now=now),
            p.node,
        ]
        for p in pods
    ]
    selected = f" matching {args.label_selector!r}" if args.label_selector else ""
    text = _table_with_notes(
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE", "DETAILS"],
        rows,
        notes=[_pod_details(p) for p in pods],
        empty=f"no pods{selected} in namespace {args.namespace}",
    )
    if rows:
        unhealthy = sum(1 for p in pods if p.ready < p.total or p.status != "Running")
        summary = f"{len(rows)} pods{selected} in namespace {args.namespace}, {unhealthy} not ready"
        text = f"{summary}\n{text}"
    return ToolOutput(text=text, raw=to_jsonable_python(pods))


def _tail(log: str, *, limit: int) -> str:
    """The newest lines of ``log`` that fit in ``limit`` characters, with a marker if cut."""
    if len(log) <= limit:
        return log
    kept = log[-limit:].split("\n", 1)[-1]  # start on a whole line
    dropped = log[: len(log) - len(kept)].count("\n")
    return (
        f"[... {dropped} earlier lines not shown; ask for fewer tailLines or sinceSeconds ...]\n"
        + kept
    )


async def _pod_logs(args: PodLogsArgs, ctx: ToolContext) -> ToolOutput:
    connector = _kubernetes(ctx)
    log = await connector.read_pod_log(
        args.namespace,
        args.name,
        container=args.container,
        tail_lines=args.tail_lines,
        since_seconds=args.since_seconds,
        previous=args.previous,
        impersonate=ctx.impersonate,
    )
    what = f"pod {args.namespace}/{args.name}" + (
        f" container {args.container}" if args.container else ""
    )
    if args.previous:
        what += " (previous instance)"
    if not log.strip():
        # An unscheduled pod answers with an empty body; say why rather than "no lines".
        pod = await connector.get_pod(args.namespace, args.name, impersonate=ctx.impersonate)
        reason = "it is not scheduled to a node yet" if not pod.node else "no lines were written"
        text = f"no log for {what}: {reason} ({pod.status})"
    else:
        lines = log.count("\n") + (0 if log.endswith("\n") else 1)
        text = f"log of {what}, {lines} lines:\n{_tail(log, limit=LOG_TEXT_LIMIT)}"
    raw = {"namespace": args.namespace, "pod": args.name, "container": args.container, "log": log}
    return ToolOutput(text=text, raw=raw)


async def _preview_delete(args: PodArgs, ctx: ToolContext) -> str:
    pod = await _kubernetes(ctx).get_pod(args.namespace, args.name, impersonate=ctx.impersonate)
    return f"would delete pod {args.namespace}/{args.name}: {_pod_state(pod)}"


async def _delete(args: PodArgs, ctx: ToolContext) -> ToolOutput:
    connector = _kubernetes(ctx)
    pod = await connector.get_pod(args.namespace, args.name, impersonate=ctx.impersonate)
    # The uid precondition makes sure we delete the pod we just described, not a replacement.
    await connector.delete_pod(args.namespace, args.name, uid=pod.uid, impersonate=ctx.impersonate)
    text = f"deleted pod {args.namespace}/{args.name} (was {_pod_state(pod)})"
    return ToolOutput(text=text, raw=to_jsonable_python(pod))


# -- events ---------------------------------------------------------------------------------


async def _events(args: EventsArgs, ctx: ToolContext) -> ToolOutput:
    events: list[K8sEvent] = await _kubernetes(ctx).list_events(
        args.namespace, kind=args.kind, name=args.name, impersonate=ctx.impersonate
    )
    if args.type is not None:
        events = [e for e in events if e.type == args.type]
    shown = events[: args.limit]
    now = datetime.now(UTC)
    rows = [
        [
            _age(e.last_seen, now=now),
            e.type,
            e.reason,
            f"{e.object_kind}/{e.object_name}",
            e.count,
        ]
        for e in shown
    ]
    about = (
        " about " + "/".join(x for x in (args.kind, args.name) if x)
        if args.kind or args.name
        else ""
    )
    text = _table_with_notes(
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"],
        rows,
        notes=[e.message for e in shown],
        empty=f"no events{about} in namespace {args.namespace}",
    )
    if rows:
        more = f" (newest {len(shown)} of {len(events)})" if len(events) > len(shown) else ""
        text = f"events{about} in namespace {args.namespace}{more}, newest first\n{text}"
    return ToolOutput(text=text, raw=to_jsonable_python(shown))


KUBERNETES_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="list_k8s_deployments",
        description=(
            "List the Deployments in a Kubernetes namespace with replicas ready/desired, "
            "up-to-date and available counts, age and container images."
        ),
        arguments=NamespacedArgs,
        risk=RiskLevel.READ_ONLY,
        connector="kubernetes",
        run=_list_deployments,
        target_namespace=_target_namespace,
    ),
    Tool(
        name="get_k8s_pod_logs",
        description=(
            "Read the log of a container in a Kubernetes pod: the last tailLines lines "
            "(default 200), optionally only the last sinceSeconds seconds, or with "
            "previous=true the log of the instance that crashed before the current one."
        ),
        arguments=PodLogsArgs,
        risk=RiskLevel.READ_ONLY,
        connector="kubernetes",
        run=_pod_logs,
        target_namespace=_target_namespace,
    ),
    Tool(
        name="restart_k8s_deployment",
        description=(
            "Restart all pods of a Kubernetes Deployment with a rolling update, like "
            "'kubectl rollout restart': new pods replace the old ones gradually."
        ),
        arguments=DeploymentArgs,
        risk=RiskLevel.SAFE_MUTATE,
        connector="kubernetes",
        run=_restart,
        preview=_preview_restart,
        target_namespace=_target_namespace,
    ),
    Tool(
        name="list_k8s_pods",
        description=(
            "List the pods in a Kubernetes namespace with readiness, status (e.g. Running, "
            "Pending, CrashLoopBackOff, ImagePullBackOff), restart counts, node and, for "
            "unhealthy containers, why they wait or how they last exited. Optional "
            "labelSelector."
        ),
        arguments=ListPodsArgs,
        risk=RiskLevel.READ_ONLY,
        connector="kubernetes",
        run=_list_pods,
        target_namespace=_target_namespace,
    ),
    Tool(
        name="get_k8s_events",
        description=(
            "Recent Kubernetes events in a namespace, newest first: scheduling failures, "
            "image pull errors, probe failures, OOM kills, scaling. Narrow to one object "
            "with kind and name, or to warnings with type='Warning'."
        ),
        arguments=EventsArgs,
        risk=RiskLevel.READ_ONLY,
        connector="kubernetes",
        run=_events,
        target_namespace=_target_namespace,
    ),
    Tool(
        name="scale_k8s_deployment",
        description=(
            f"Set the number of replicas (pods) of a Kubernetes Deployment, 0 to {MAX_REPLICAS}."
        ),
        arguments=ScaleDeploymentArgs,
        risk=RiskLevel.SAFE_MUTATE,
        connector="kubernetes",
        run=_scale,
        preview=_preview_scale,
        target_namespace=_target_namespace,
    ),
    Tool(
        name="delete_k8s_pod",
        description=(
            "Delete one Kubernetes pod. A pod owned by a controller (Deployment, StatefulSet, "
            "...) is replaced by a new one; a bare pod is gone for good."
        ),
        arguments=PodArgs,
        risk=RiskLevel.DESTRUCTIVE,
        connector="kubernetes",
        run=_delete,
        preview=_preview_delete,
        target_namespace=_target_namespace,
    ),
)
