"""``mission-control approve|reject`` and the ``kubectl mc`` plugin: decide a held tool call.

The decision is recorded as an entry of the TaskRun's ``spec.approvals`` whose ``by`` and
``groups`` come from the caller's own identity as the API server reports it (the admission
policy in ``crds/`` refuses any other), and whose ``argsDigest`` is the pending call's, so what
is approved is exactly what was shown. The entry is appended with a JSON patch that first
tests the pending call's id and digest: if the run moved on to another call in between, the API
server refuses the patch and nothing is recorded. See ``docs/architecture.md`` (Approvals).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import click
from pydantic import ValidationError

from mission_control.connectors.errors import ConnectorError
from mission_control.errors import ConfigError
from mission_control.logs_cli import logs
from mission_control.resources.taskrun import PendingApproval
from mission_control.settings import load_settings

if TYPE_CHECKING:
    # Imported where used: the Kubernetes client library is not loaded by the other commands.
    from mission_control.connectors.kubernetes.taskruns import CallerIdentity, TaskRunAccess

__all__ = ["DecisionError", "approve", "kubectl_plugin", "plan", "plugin_main", "reject"]

DecisionKind = Literal["Approve", "Reject"]
#: How many times a decision is re-sent when only other people's approvals got in between.
_ATTEMPTS = 3


class DecisionError(Exception):
    """The decision cannot be recorded; the message says why and what to do."""


@dataclass(frozen=True)
class Plan:
    """The entry to append and the JSON patch that appends it only to the call it names."""

    pending: PendingApproval
    entry: dict[str, Any]
    operations: list[dict[str, Any]]


def plan(
    taskrun: dict[str, Any],
    *,
    caller: CallerIdentity,
    decision: DecisionKind,
    tool_call: str | None,
    message: str | None,
) -> Plan:
    """The decision on ``taskrun``'s pending call as ``caller``; pure, raises DecisionError."""
    meta = taskrun.get("metadata", {})
    where = f"taskrun {meta.get('namespace')}/{meta.get('name')}"
    status = taskrun.get("status") or {}
    raw = status.get("pendingApproval")
    if not raw:
        raise DecisionError(f"{where} has no tool call awaiting approval ({_state(status)})")
    try:
        pending = PendingApproval.model_validate(raw)
    except ValidationError as exc:
        raise DecisionError(f"{where}: status.pendingApproval is malformed: {exc}") from None
    if tool_call is not None and tool_call != pending.tool_call_id:
        raise DecisionError(
            f"tool call {tool_call} is not the one awaiting approval in {where}: that is "
            f"{pending.tool_call_id} ({pending.tool} {pending.arguments}); nothing was recorded"
        )
    approvals = (taskrun.get("spec") or {}).get("approvals")
    for given in approvals or []:
        if given.get("toolCallId") == pending.tool_call_id and given.get("by") == caller.username:
            raise DecisionError(
                f"you ({caller.username}) already decided tool call {pending.tool_call_id} of "
                f"{where} ({given.get('decision')}); a decision cannot be changed"
            )
    entry: dict[str, Any] = {
        "toolCallId": pending.tool_call_id,
        "decision": decision,
        "by": caller.username,
        "argsDigest": pending.args_digest,
    }
    if caller.groups:
        entry["groups"] = list(caller.groups)
    if message:
        entry["message"] = message
    # Fail unless the call is still the one shown: a run that moved on must not receive it.
    tests: list[dict[str, Any]] = [
        {"op": "test", "path": "/status/pendingApproval/toolCallId", "value": pending.tool_call_id},
        {"op": "test", "path": "/status/pendingApproval/argsDigest", "value": pending.args_digest},
    ]
    if approvals is None:
        # "add" on a missing list creates it; the null test keeps it from replacing a list
        # someone else created meanwhile.
        append: list[dict[str, Any]] = [
            {"op": "test", "path": "/spec/approvals", "value": None},
            {"op": "add", "path": "/spec/approvals", "value": [entry]},
        ]
    else:
        append = [{"op": "add", "path": "/spec/approvals/-", "value": entry}]
    return Plan(pending=pending, entry=entry, operations=tests + append)


def _state(status: dict[str, Any]) -> str:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Succeeded":
            return f"Succeeded={condition.get('status')}, reason {condition.get('reason')}"
    return "not started yet"


async def decide(
    access: TaskRunAccess,
    *,
    namespace: str,
    name: str,
    decision: DecisionKind,
    tool_call: str | None,
    message: str | None,
) -> tuple[Plan, CallerIdentity]:
    """Record the decision; re-read and retry when only other people's approvals got in."""
    from mission_control.connectors.kubernetes.taskruns import PatchTestFailed

    caller = await access.whoami()
    shown: PendingApproval | None = None
    for _ in range(_ATTEMPTS):
        taskrun = await access.get(namespace, name)
        decided = plan(
            taskrun, caller=caller, decision=decision, tool_call=tool_call, message=message
        )
        if shown is not None and decided.pending != shown:
            raise DecisionError(
                f"the call awaiting approval in taskrun {namespace}/{name} changed while you "
                f"decided (now {decided.pending.tool_call_id}: {decided.pending.tool} "
                f"{decided.pending.arguments}); nothing was recorded, run the command again"
            )
        shown = decided.pending
        try:
            await access.json_patch(namespace, name, decided.operations)
        except PatchTestFailed:
            continue
        return decided, caller
    raise DecisionError(
        f"taskrun {namespace}/{name} kept changing while the decision was sent; "
        "nothing was recorded, run the command again"
    )


def _options(function: Any) -> Any:
    for option in reversed(
        [
            click.argument("taskrun"),
            click.option(
                "-n",
                "--namespace",
                metavar="NS",
                help="Namespace of the TaskRun [default: the kubeconfig context's].",
            ),
            click.option(
                "--tool-call",
                metavar="ID",
                help="The id of the call you mean (status.pendingApproval.toolCallId); "
                "refused if another call is pending.",
            ),
            click.option(
                "-m",
                "--message",
                metavar="TEXT",
                help="Why; a rejection's reason reaches the model.",
            ),
            click.option("--context", metavar="NAME", help="The kubeconfig context to use."),
        ]
    ):
        function = option(function)
    return function


@click.command()
@_options
def approve(
    taskrun: str,
    namespace: str | None,
    tool_call: str | None,
    message: str | None,
    context: str | None,
) -> None:
    """Approve the tool call a TaskRun is holding, as yourself (kubectl auth whoami).

    Fills by and groups from your identity and argsDigest from the pending call, so exactly
    the arguments shown are approved.
    """
    _run(
        "Approve",
        taskrun,
        namespace=namespace,
        tool_call=tool_call,
        message=message,
        context=context,
    )


@click.command()
@_options
def reject(
    taskrun: str,
    namespace: str | None,
    tool_call: str | None,
    message: str | None,
    context: str | None,
) -> None:
    """Reject the tool call a TaskRun is holding, as yourself; the model is told, with --message."""
    _run(
        "Reject",
        taskrun,
        namespace=namespace,
        tool_call=tool_call,
        message=message,
        context=context,
    )


def _run(
    decision: DecisionKind,
    name: str,
    *,
    namespace: str | None,
    tool_call: str | None,
    message: str | None,
    context: str | None,
) -> None:
    from mission_control.connectors.kubernetes.taskruns import TaskRunAccess

    kubeconfig = load_settings().kubernetes.kubeconfig

    async def work() -> str:
        access = TaskRunAccess.connect(kubeconfig=kubeconfig, context=context)
        try:
            where = namespace or access.default_namespace
            done, caller = await decide(
                access,
                namespace=where,
                name=name,
                decision=decision,
                tool_call=tool_call,
                message=message,
            )
        finally:
            await access.aclose()
        groups = f" (groups: {', '.join(caller.groups)})" if caller.groups else ""
        verb = "approved" if decision == "Approve" else "rejected"
        return (
            f"{verb} tool call {done.pending.tool_call_id} of taskrun {where}/{name}: "
            f"{done.pending.tool} {done.pending.arguments} as {caller.username}{groups}"
        )

    try:
        click.echo(asyncio.run(work()))
    except (DecisionError, ConnectorError) as exc:
        click.echo(f"{decision.lower()} failed: {exc}", err=True)
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def kubectl_plugin() -> None:
    """kubectl mc: Mission Control's commands for kubectl users (approve, reject, logs)."""


kubectl_plugin.add_command(approve)
kubectl_plugin.add_command(reject)
kubectl_plugin.add_command(logs)


def plugin_main() -> None:
    """Entry point of the ``kubectl-mc`` executable (``kubectl mc ...``)."""
    try:
        kubectl_plugin(prog_name="kubectl mc")
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
