"""Pod and event tools: list pods with why they are unhealthy, read logs, delete, events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field
from pydantic_core import to_jsonable_python

from mission_control.connectors.kubernetes import K8sEvent, K8sPod
from mission_control.tools.base import ToolContext, ToolOutput
from mission_control.tools.kubernetes.common import (
    ContainerName,
    Kind,
    NamespacedArgs,
    ObjectName,
    age,
    kubernetes,
    table_with_notes,
)

__all__ = [
    "EventsArgs",
    "ListPodsArgs",
    "PodArgs",
    "PodLogsArgs",
    "delete",
    "events",
    "list_pods",
    "pod_logs",
    "preview_delete",
]

#: Log text kept for the model (the newest lines; the rest is cut with a marker).
LOG_TEXT_LIMIT = 12 * 1024


class ListPodsArgs(NamespacedArgs):
    """Which pods to list."""

    label_selector: str | None = Field(
        default=None,
        alias="labelSelector",
        max_length=1024,
        description="Only pods matching this label selector, e.g. 'app=web,tier!=cache'.",
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
    type: Literal["Normal", "Warning"] | None = Field(
        default=None, description="Only 'Warning' or only 'Normal' events."
    )
    limit: int = Field(default=50, ge=1, le=200, description="At most this many, newest first.")


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


async def list_pods(args: ListPodsArgs, ctx: ToolContext) -> ToolOutput:
    pods = await kubernetes(ctx).list_pods(
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
            age(p.created, now=now),
            p.node,
        ]
        for p in pods
    ]
    selected = f" matching {args.label_selector!r}" if args.label_selector else ""
    text = table_with_notes(
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


async def pod_logs(args: PodLogsArgs, ctx: ToolContext) -> ToolOutput:
    connector = kubernetes(ctx)
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


async def preview_delete(args: PodArgs, ctx: ToolContext) -> str:
    pod = await kubernetes(ctx).get_pod(args.namespace, args.name, impersonate=ctx.impersonate)
    return f"would delete pod {args.namespace}/{args.name}: {_pod_state(pod)}"


async def delete(args: PodArgs, ctx: ToolContext) -> ToolOutput:
    connector = kubernetes(ctx)
    pod = await connector.get_pod(args.namespace, args.name, impersonate=ctx.impersonate)
    # The uid precondition makes sure we delete the pod we just described, not a replacement.
    await connector.delete_pod(args.namespace, args.name, uid=pod.uid, impersonate=ctx.impersonate)
    text = f"deleted pod {args.namespace}/{args.name} (was {_pod_state(pod)})"
    return ToolOutput(text=text, raw=to_jsonable_python(pod))


async def events(args: EventsArgs, ctx: ToolContext) -> ToolOutput:
    found: list[K8sEvent] = await kubernetes(ctx).list_events(
        args.namespace, kind=args.kind, name=args.name, impersonate=ctx.impersonate
    )
    if args.type is not None:
        found = [e for e in found if e.type == args.type]
    shown = found[: args.limit]
    now = datetime.now(UTC)
    rows = [
        [
            age(e.last_seen, now=now),
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
    text = table_with_notes(
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"],
        rows,
        notes=[e.message for e in shown],
        empty=f"no events{about} in namespace {args.namespace}",
    )
    if rows:
        more = f" (newest {len(shown)} of {len(found)})" if len(found) > len(shown) else ""
        text = f"events{about} in namespace {args.namespace}{more}, newest first\n{text}"
    return ToolOutput(text=text, raw=to_jsonable_python(shown))
