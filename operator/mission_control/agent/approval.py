"""Holding a tool call for people's decision, and applying the decision.

The held call goes to status (``pendingApproval`` with the arguments' digest, reason
``AwaitingApproval``) and the loop waits on :meth:`RunControl.wait_for_change` (no polling)
until :func:`mission_control.runs.approvals.evaluate` says Approved or Rejected, the run is
cancelled, or the policy's approval timeout passes. Entries that do not count (wrong digest,
not an approver, self-approval) are reported once each, as an Event and in the audit trail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from collections.abc import Mapping, Sequence
from typing import Any

from mission_control.agent.context import RunContext, RunEnded
from mission_control.runs.approvals import (
    ApprovalOutcome,
    IgnoredApproval,
    PendingCall,
    args_digest,
    canonical_json,
    evaluate,
)
from mission_control.runs.policy import Decision, Risk
from mission_control.runs.status import Pending

__all__ = ["await_decision"]


async def await_decision(
    ctx: RunContext,
    *,
    record_id: str,
    tool: str,
    risk: Risk,
    arguments: Mapping[str, Any],
    decision: Decision,
) -> ApprovalOutcome:
    """Hold the call until it is approved or rejected; raise :class:`RunEnded` otherwise."""
    policy = ctx.request.policy
    timeout = policy.approval_timeout_seconds
    now = ctx.services.clock()
    digest = args_digest(arguments)
    pending = Pending(
        tool_call_id=record_id,
        tool=tool,
        risk=risk,
        arguments_json=canonical_json(arguments),
        args_digest=digest,
        requested_at=now,
        expires_at=now + dt.timedelta(seconds=timeout),
    )
    details = {"toolCallId": record_id, "tool": tool, "risk": risk, "argsDigest": digest}
    await ctx.recorder.journal(
        "approval.requested",
        event_id=f"approval.requested:{record_id}",
        payload={**details, "arguments": dict(arguments), "reason": decision.reason},
    )
    await ctx.recorder.audit(
        "tool.held",
        key=f"tool.held:{record_id}",
        decision="RequireApproval",
        target=f"{tool} in taskrun {ctx.request.namespace}/{ctx.request.name}",
        details={**details, "policy": decision.policy, "reason": decision.reason},
    )
    how = (
        f"kubectl mc approve {ctx.request.name} -n {ctx.request.namespace} "
        f"(or reject) within {timeout}s"
    )
    held = f"{tool} (tool call {record_id}) is held for approval: {decision.reason}; {how}"
    # The stored row too (first, so it is there by the time the status says so): the read-only
    # API and its web view list the run as held.
    await _store_reason(ctx, reason="AwaitingApproval", message=held)
    await ctx.status.report("AwaitingApproval", held, pending=pending)
    with (
        ctx.services.metrics.awaiting_approval(),
        ctx.services.tracing.approval(tool=tool, call_id=record_id),
    ):
        outcome = await _wait(ctx, pending=PendingCall(tool_call_id=record_id, args_digest=digest))
    await _store_reason(ctx, reason="Running", message=f"{tool} (tool call {record_id}) decided")
    await _apply(ctx, record_id=record_id, tool=tool, outcome=outcome, details=details)
    return outcome


async def _store_reason(ctx: RunContext, *, reason: str, message: str) -> None:
    runs = ctx.services.store.runs
    await ctx.recorder.durably(
        lambda: runs.set_reason(ctx.request.uid, reason=reason, message=message)
    )


async def _wait(ctx: RunContext, *, pending: PendingCall) -> ApprovalOutcome:
    policy = ctx.request.policy
    approvers = (*policy.approvers, *ctx.request.cluster_approvers)
    started = time.monotonic()
    deadline = started + policy.approval_timeout_seconds
    try:
        while True:
            outcome = evaluate(
                pending,
                entries=ctx.control.approvals(),
                approvers=approvers,
                required_approvals=policy.required_approvals,
                forbid_self_approval=policy.forbid_self_approval,
                creator=ctx.request.creator,
            )
            await _report_ignored(ctx, pending=pending, ignored=outcome.ignored)
            if outcome.state != "Waiting":
                return outcome
            ctx.check_cancelled()
            left = deadline - time.monotonic()
            if left <= 0:
                raise RunEnded(
                    "ApprovalTimedOut",
                    f"no decision on tool call {pending.tool_call_id} within "
                    f"{policy.approval_timeout_seconds}s (the policy's approvalTimeoutSeconds); "
                    "run it again and approve sooner, or raise the timeout",
                )
            try:
                async with asyncio.timeout(left):
                    await ctx.control.wait_for_change()
            except TimeoutError:
                continue
    finally:
        ctx.clock.pause(time.monotonic() - started)


async def _report_ignored(
    ctx: RunContext, *, pending: PendingCall, ignored: Sequence[IgnoredApproval]
) -> None:
    for item in ignored:
        entry = item.entry
        key = (f"{entry.by}|{entry.decision}|{entry.args_digest}", item.why)
        if key in ctx.seen_ignored:
            continue
        ctx.seen_ignored.add(key)
        message = (
            f"{entry.decision} by {entry.by} for tool call {pending.tool_call_id} ignored: "
            f"{item.why}"
        )
        await ctx.status.event("ApprovalIgnored", message, warning=True)
        await ctx.recorder.audit(
            "approval.ignored",
            key="approval.ignored:"
            + hashlib.sha256(f"{pending.tool_call_id}|{key}".encode()).hexdigest()[:32],
            actor=entry.by,
            actor_kind="user",
            decision=entry.decision,
            outcome="ignored",
            details={"toolCallId": pending.tool_call_id, "why": item.why},
        )


async def _apply(
    ctx: RunContext,
    *,
    record_id: str,
    tool: str,
    outcome: ApprovalOutcome,
    details: Mapping[str, Any],
) -> None:
    rejection = outcome.rejection
    await ctx.recorder.journal(
        "approval.decided",
        event_id=f"approval.decided:{record_id}",
        payload={
            **details,
            "state": outcome.state,
            "approvedBy": list(outcome.approved_by),
            "rejectedBy": rejection.by if rejection else None,
            "message": rejection.message if rejection else None,
        },
    )
    if rejection is not None:
        ctx.status.apply_approval(tool_call_id=record_id, decision="Reject", by=rejection.by)
        await ctx.recorder.audit(
            "tool.rejected",
            key=f"tool.rejected:{record_id}",
            actor=rejection.by,
            actor_kind="user",
            decision="Reject",
            details={**details, "message": rejection.message or ""},
        )
        said = f": {rejection.message}" if rejection.message else ""
        text = f"{tool} (tool call {record_id}) rejected by {rejection.by}{said}"
        await ctx.status.event("Rejected", text)
    else:
        for by in outcome.approved_by:
            ctx.status.apply_approval(tool_call_id=record_id, decision="Approve", by=by)
            await ctx.recorder.audit(
                "tool.approved",
                key=f"tool.approved:{record_id}:{by}",
                actor=by,
                actor_kind="user",
                decision="Approve",
                details=details,
            )
        who = ", ".join(outcome.approved_by)
        text = f"{tool} (tool call {record_id}) approved by {who}"
        await ctx.status.event("Approved", text)
    await ctx.status.report("Running", text)
