"""The tool calls of one model answer: validate, decide, then deny, hold, preview or run.

At most :attr:`AgentLimits.max_tool_calls_per_step` calls of an answer are looked at; the rest
are refused with a message. Whatever the model got wrong (a tool that does not exist or is
not offered, arguments that are not JSON or fail the schema) goes back to it as a tool error,
counted, and the run goes on. A call that runs records its intent first (write-ahead), then
its outcome; the model gets the output cut to a bound, the journal keeps the full result.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Collection, Sequence
from functools import partial
from typing import Any

from mission_control.agent.approval import await_decision
from mission_control.agent.context import RunContext
from mission_control.errors import MissionControlError
from mission_control.llm.messages import ToolCall, ToolResultMessage
from mission_control.runs.approvals import args_digest
from mission_control.runs.policy import Decision, Risk, ToolFamily, decide
from mission_control.runs.policy import ToolCall as PolicyCall
from mission_control.telemetry.metrics import UNKNOWN_TOOL
from mission_control.tools import (
    InvalidToolArguments,
    Tool,
    ToolOutcomeUnknown,
    invoke,
    preview,
)
from mission_control.tools.registry import call_risk

__all__ = ["handle_calls", "record_id"]


def record_id(*, step: int, index: int, call: ToolCall) -> str:
    """The run-unique id of a call: models may reuse their own ids from one answer to the next."""
    return f"s{step}-{index}-{call.id}"[:64]


async def handle_calls(
    ctx: RunContext,
    *,
    step: int,
    calls: Sequence[ToolCall],
    only: Collection[str] | None = None,
) -> list[ToolResultMessage]:
    """Handle every call of one answer; the results go back to the model in order.

    ``only`` (call ids) handles just those calls of the answer, already counted: the ones a
    resumed run still owes an answer.
    """
    limit = ctx.services.limits.max_tool_calls_per_step
    if only is None:
        ctx.status.counters.tool_calls += len(calls)
    results = [
        await _traced(ctx, step=step, call=call, rid=record_id(step=step, index=index, call=call))
        for index, call in enumerate(calls[:limit])
        if only is None or call.id in only
    ]
    refused = [call for call in calls[limit:] if only is None or call.id in only]
    if refused:
        ctx.status.counters.invalid_calls += len(refused)
        text = (
            f"refused: at most {limit} tool calls are run per answer and this answer asked for "
            f"{len(calls)}; the first {limit} were handled. Ask again for the ones that matter."
        )
        messages = [
            ToolResultMessage(tool_call_id=call.id, name=call.name, content=text, is_error=True)
            for call in refused
        ]
        await ctx.recorder.journal(
            "tool.refused",
            event_id=f"tool.refused:{step}",
            payload={"step": step, "refused": len(refused), "limit": limit},
            messages=messages,
        )
        await ctx.recorder.audit(
            "tool.refused",
            key=f"tool.refused:{step}",
            decision="Deny",
            details={"step": step, "refused": len(refused), "limit": limit},
        )
        results.extend(messages)
    return results


async def _traced(ctx: RunContext, *, step: int, call: ToolCall, rid: str) -> ToolResultMessage:
    with ctx.services.tracing.tool(name=call.name, call_id=rid, arguments=call.arguments):
        return await _handle(ctx, step=step, call=call, rid=rid)


async def _handle(ctx: RunContext, *, step: int, call: ToolCall, rid: str) -> ToolResultMessage:
    problem = _problem(ctx, call)
    tool: Tool[Any] | None = None
    if problem is None:
        tool = ctx.offered.get(call.name) or ctx.services.registry.get(call.name)
        try:
            tool.parse_arguments(call.arguments)
        except InvalidToolArguments as exc:
            problem = f"{exc}; fix the arguments and call {call.name} again"
    if problem is not None or tool is None:
        ctx.status.counters.invalid_calls += 1
        text = problem or "invalid call"
        await ctx.recorder.audit(
            "tool.invalid",
            key=f"tool.invalid:{rid}",
            outcome="invalid",
            target=f"{call.name[:63]} in taskrun {ctx.request.namespace}/{ctx.request.name}",
            details={"toolCallId": rid, "tool": call.name, "why": text},
        )
        return await _answer(ctx, call=call, rid=rid, text=text, error=True, status="invalid")
    try:
        risk: Risk = (await call_risk(tool, call.arguments, ctx.tools)).value
    except MissionControlError as exc:
        # Without its risk a call cannot be decided; it is not made.
        text = f"{call.name} was not run: its risk could not be assessed: {exc}"
        return await _answer(ctx, call=call, rid=rid, text=text, error=True, status="failed")
    decision = decide(
        PolicyCall(tool=tool.name, risk=risk, family=_family(tool), arguments=call.arguments),
        scope=ctx.scope,
        policy=ctx.request.policy.decision,
        cluster=ctx.request.cluster_policies,
    )
    await _record_decision(ctx, rid=rid, call=call, risk=risk, decision=decision)
    if decision.verdict == "Deny":
        await ctx.status.event(
            "ToolDenied", f"{call.name} (tool call {rid}) {decision.reason}", warning=True
        )
        text = f"{decision.reason}. This is final: do not try it another way."
        return await _answer(
            ctx, call=call, rid=rid, text=text, error=True, status="denied", judged=(risk, "Deny")
        )
    approver = ""
    if decision.verdict == "RequireApproval":
        outcome = await await_decision(
            ctx,
            record_id=rid,
            tool=tool.name,
            risk=risk,
            arguments=call.arguments,
            decision=decision,
        )
        if outcome.rejection is not None:
            said = f": {outcome.rejection.message}" if outcome.rejection.message else ""
            text = (
                f"rejected by {outcome.rejection.by}{said}. The call was not made; do not "
                "try it another way."
            )
            return await _answer(
                ctx,
                call=call,
                rid=rid,
                text=text,
                error=True,
                status="rejected",
                judged=(risk, "RequireApproval"),
            )
        approver = ",".join(outcome.approved_by)
    if decision.preview:
        return await _preview(ctx, call=call, rid=rid, tool=tool, risk=risk, approver=approver)
    return await _run(ctx, call=call, rid=rid, tool=tool, risk=risk, approver=approver)


def _problem(ctx: RunContext, call: ToolCall) -> str | None:
    """Why the call cannot even be decided, in words for the model; None when it can."""
    offered = ", ".join(sorted(ctx.offered)) or "none"
    if call.name not in ctx.services.registry:
        return f"unknown tool {call.name!r}: there is no such tool; you may call: {offered}"
    if call.name in ctx.scope.task_tools and call.name not in ctx.offered:
        why = ctx.services.registry.unavailable(
            ctx.tools.connectors, inventory=ctx.tools.inventory
        ).get(call.name, "its backend is not configured")
        return f"tool {call.name} is unavailable: {why}; you may call: {offered}"
    if call.arguments_error is not None:
        return (
            f"the arguments of {call.name} could not be read: {call.arguments_error}; send one "
            "JSON object matching the tool's schema"
        )
    return None


def _family(tool: Tool[Any]) -> ToolFamily:
    if tool.connector == "kubernetes":
        return "kubernetes"
    if tool.connector == "argocd":
        return "argocd"
    return "other"


async def _record_decision(
    ctx: RunContext, *, rid: str, call: ToolCall, risk: Risk, decision: Decision
) -> None:
    details = {
        "toolCallId": rid,
        "tool": call.name,
        "risk": risk,
        "arguments": dict(call.arguments),
        "policy": decision.policy,
        "reason": decision.reason,
    }
    # An allowed call records its intent next, before anything leaves the operator: the
    # decision is committed with it.
    allowed = decision.verdict == "Allow"
    await ctx.recorder.journal(
        "tool.decision",
        event_id=f"tool.decision:{rid}",
        payload={**details, "verdict": decision.verdict},
        held=allowed,
    )
    if decision.verdict == "RequireApproval":
        return  # the hold is audited with its digest when it is requested
    action = "tool.denied" if decision.verdict == "Deny" else "tool.allowed"
    await ctx.recorder.audit(
        action,
        key=f"{action}:{rid}",
        decision=decision.verdict,
        target=f"{call.name} in taskrun {ctx.request.namespace}/{ctx.request.name}",
        details=details,
        held=allowed,
    )


async def _preview(
    ctx: RunContext, *, call: ToolCall, rid: str, tool: Tool[Any], risk: Risk, approver: str
) -> ToolResultMessage:
    await _intent(ctx, call=call, rid=rid, risk=risk, decision="Preview", approver=approver)
    try:
        said = await preview(tool, call.arguments, ctx.tools)
    except MissionControlError as exc:
        failed = partial(
            ctx.services.store.tool_calls.fail,
            run_uid=ctx.request.uid,
            tool_call_id=rid,
            error=str(exc),
        )
        ctx.recorder.hold(failed)  # committed with the result's event (``_answer``)
        return await _answer(
            ctx,
            call=call,
            rid=rid,
            text=str(exc),
            error=True,
            status="failed",
            judged=(risk, "Preview"),
        )
    text = f"dry run: nothing was changed. {said}"
    # The outcome, its audit entry and the result's event (``_answer``): one transaction.
    ctx.recorder.hold(
        lambda: ctx.services.store.tool_calls.complete(
            run_uid=ctx.request.uid, tool_call_id=rid, output_digest=_digest(text)
        )
    )
    await ctx.recorder.audit(
        "tool.previewed",
        key=f"tool.previewed:{rid}",
        decision="Preview",
        outcome="previewed",
        target=f"{call.name} in taskrun {ctx.request.namespace}/{ctx.request.name}",
        details={"toolCallId": rid, "preview": said},
        held=True,
    )
    return await _answer(
        ctx,
        call=call,
        rid=rid,
        text=text,
        error=False,
        status="previewed",
        judged=(risk, "Preview"),
    )


async def _run(
    ctx: RunContext, *, call: ToolCall, rid: str, tool: Tool[Any], risk: Risk, approver: str
) -> ToolResultMessage:
    decision = "Approved" if approver else "Allow"
    await _intent(ctx, call=call, rid=rid, risk=risk, decision=decision, approver=approver)
    calls = ctx.services.store.tool_calls
    # The call's outcome, its audit entry and the result's event (``_answer``) are committed
    # in one transaction after the call.
    started = time.monotonic()
    raw: Any = None
    ran: float | None = None
    if tool.connector == "kubernetes" and not ctx.request.service_account_exists:
        text, status, error = _missing_service_account(ctx), "failed", True
        ctx.recorder.hold(lambda: calls.fail(run_uid=ctx.request.uid, tool_call_id=rid, error=text))
    else:
        try:
            output = await invoke(tool, call.arguments, ctx.tools)
        except ToolOutcomeUnknown as exc:
            text, status, error = str(exc), "unknown", True
            ctx.recorder.hold(
                lambda: calls.mark_unknown(run_uid=ctx.request.uid, tool_call_id=rid, reason=text)
            )
        except MissionControlError as exc:
            text, status, error = str(exc), "failed", True
            ran = time.monotonic() - started
            elapsed = ran * 1000
            ctx.recorder.hold(
                lambda: calls.fail(
                    run_uid=ctx.request.uid, tool_call_id=rid, error=text, duration_ms=elapsed
                )
            )
        else:
            ran = time.monotonic() - started
            raw = output.for_journal()
            text = output.for_model(ctx.services.limits.model_output_chars)
            status, error = "completed", False
            digest = _digest(json.dumps(raw, sort_keys=True, default=str))
            took = (time.monotonic() - started) * 1000
            ctx.recorder.hold(
                lambda: calls.complete(
                    run_uid=ctx.request.uid,
                    tool_call_id=rid,
                    output_digest=digest,
                    duration_ms=took,
                )
            )
    # One key whatever the outcome: a call has one outcome entry.
    await ctx.recorder.audit(
        "tool.outcome_unknown" if status == "unknown" else "tool.executed",
        key=f"tool.outcome:{rid}",
        decision=decision,
        outcome=status,
        actor=approver or "mission-control",
        actor_kind="user" if approver else "operator",
        target=f"{call.name} in taskrun {ctx.request.namespace}/{ctx.request.name}",
        details={"toolCallId": rid, "identity": ctx.impersonate, "error": text if error else ""},
        held=True,
    )
    return await _answer(
        ctx,
        call=call,
        rid=rid,
        text=text,
        error=error,
        status=status,
        raw=raw,
        judged=(risk, decision),
        seconds=ran,
    )


def _missing_service_account(ctx: RunContext) -> str:
    ns, sa = ctx.request.namespace, ctx.request.service_account
    return (
        f"Kubernetes tools act as service account {ns}/{sa}, which does not exist: create it "
        f"with `kubectl create serviceaccount {sa} -n {ns}` and bind a Role, e.g. `kubectl "
        f"create rolebinding {sa}-view --clusterrole=view --serviceaccount={ns}:{sa} -n {ns}`"
    )


async def _intent(
    ctx: RunContext, *, call: ToolCall, rid: str, risk: Risk, decision: str, approver: str
) -> None:
    # Write-ahead: durable before the tool is touched, so a crash cannot repeat it unseen (it
    # is committed with its ``tool.started`` event, before this function returns).
    ctx.recorder.hold(
        lambda: ctx.services.store.tool_calls.record_intent(
            run_uid=ctx.request.uid,
            tool_call_id=rid,
            tool=call.name,
            risk=risk,
            arguments=call.arguments,
            args_digest=args_digest(call.arguments),
            decision=decision,
            approver=approver,
            dry_run=decision == "Preview",
        )
    )
    await ctx.recorder.journal(
        "tool.started",
        event_id=f"tool.started:{rid}",
        payload={"toolCallId": rid, "tool": call.name, "identity": ctx.impersonate},
    )


async def _answer(
    ctx: RunContext,
    *,
    call: ToolCall,
    rid: str,
    text: str,
    error: bool,
    status: str,
    raw: Any = None,
    judged: tuple[str, str] = ("unknown", "None"),
    seconds: float | None = None,
) -> ToolResultMessage:
    """The result the model gets, journaled; counted by tool, ``judged`` (risk, decision) and
    ``status``."""
    known = call.name in ctx.services.registry
    ctx.services.metrics.tool_call(
        tool=call.name if known else UNKNOWN_TOOL,
        risk=judged[0],
        decision=judged[1],
        outcome=status,
        seconds=seconds,
    )
    ctx.services.tracing.tool_answered(
        risk=judged[0], decision=judged[1], outcome=status, error=error, result=text
    )
    message = ToolResultMessage(tool_call_id=call.id, name=call.name, content=text, is_error=error)
    payload: dict[str, Any] = {"toolCallId": rid, "tool": call.name, "status": status}
    if raw is not None:
        payload["output"] = raw
    await ctx.recorder.journal(
        "tool.result", event_id=f"tool.result:{rid}", payload=payload, messages=[message]
    )
    return message


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
