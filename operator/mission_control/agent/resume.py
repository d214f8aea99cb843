"""Picking a run up from its journal after the operator restarted (or its daemon was stopped).

The conversation is rebuilt from the journal (:meth:`Store.conversation`), the counters from
the journal and the usage rows. A call whose intent was recorded but whose outcome was not is
never repeated: it is marked unknown, audited, and the model is told. Calls of the last answer
that never got as far as an intent are handled as if new (nothing was done for them yet).
A run whose end is already in the journal only reports that end again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from mission_control.agent.calls import record_id
from mission_control.agent.context import RunContext, RunEnded
from mission_control.agent.status import Counters, ModelTally
from mission_control.llm.messages import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolResultMessage,
    load_messages,
)
from mission_control.runs.status import REASON_STATUS, RunReason
from mission_control.store.records import JournalEvent

__all__ = ["Resumed", "resume"]

_SUCCEEDED = "the agent answered; see status.result.summary"

UNKNOWN_OUTCOME = (
    "the operator stopped while {tool} was running, so its outcome is unknown: it may or may "
    "not have taken effect. Check the current state before you try anything again."
)


@dataclass(frozen=True, kw_only=True)
class Resumed:
    """Where a run stands in its journal."""

    messages: list[Message]
    #: How many times the run was picked up again, this time included.
    attempt: int
    #: The last answer's step and the calls of it that still need handling.
    step: int
    unhandled: tuple[ToolCall, ...]
    all_calls: tuple[ToolCall, ...]


def _tally_by_model(counters: Counters, events: Sequence[JournalEvent]) -> None:
    """The per-model breakdown again, from the answers the journal recorded."""
    for event in events:
        link = event.payload.get("chainModel") if event.type == "llm.response" else None
        if not isinstance(link, list) or len(link) != 2:
            continue  # recorded before the chain existed: in the totals only
        tally = counters.by_model.setdefault((str(link[0]), str(link[1])), ModelTally())
        tally.requests += 1
        tally.prompt_tokens += int(event.payload.get("promptTokens") or 0)
        tally.completion_tokens += int(event.payload.get("completionTokens") or 0)
        tally.cost_usd += Decimal(str(event.payload.get("costUSD") or 0))


async def resume(ctx: RunContext) -> Resumed | None:
    """The run's state from its journal; None for a run that has not started yet.

    Raises :class:`RunEnded` for a run whose end is already recorded.
    """
    store, uid = ctx.services.store, ctx.request.uid
    events = await ctx.recorder.durably(lambda: store.journal.events_after(uid))
    if not events:
        return None
    conversation = await ctx.recorder.durably(lambda: store.conversation(uid))
    messages = load_messages(list(conversation.messages))
    usage = await ctx.recorder.durably(lambda: store.usage.run_total(uid))
    counters = ctx.status.counters
    counters.steps = sum(1 for event in events if event.type == "llm.response")
    counters.prompt_tokens = usage.prompt_tokens
    counters.completion_tokens = usage.completion_tokens
    counters.cost_usd = usage.cost_usd
    counters.invalid_calls = sum(1 for event in events if event.type == "run.nudge")
    _tally_by_model(counters, events)
    answers = [m for m in messages if isinstance(m, AssistantMessage)]
    counters.tool_calls = sum(len(answer.tool_calls) for answer in answers)
    _raise_if_finished(events)
    attempt = 1 + sum(1 for event in events if event.type == "run.resumed")
    final = messages[-1] if messages else None
    if isinstance(final, AssistantMessage) and not final.tool_calls and final.content.strip():
        # The answer was recorded but the end was not: end it now.
        raise RunEnded("Succeeded", _SUCCEEDED, summary=final.content)
    last = _answer_in_progress(messages)
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolResultMessage)}
    open_ids = {record.tool_call_id: record for record in conversation.open_tool_calls}
    step = counters.steps
    unhandled: list[ToolCall] = []
    calls = last.tool_calls if last is not None else ()
    for index, call in enumerate(calls):
        if call.id in answered:
            continue
        rid = record_id(step=step, index=index, call=call)
        if rid in open_ids:
            messages.append(await _unknown(ctx, call=call, rid=rid))
        else:
            unhandled.append(call)
    # Calls left open by an earlier answer (their result was never written) are unknown too.
    for rid, record in open_ids.items():
        if not any(rid == record_id(step=step, index=i, call=c) for i, c in enumerate(calls)):
            await ctx.recorder.durably(
                partial(
                    ctx.services.store.tool_calls.mark_unknown,
                    run_uid=uid,
                    tool_call_id=rid,
                    reason=UNKNOWN_OUTCOME.format(tool=record.tool),
                )
            )
    return Resumed(
        messages=messages,
        attempt=attempt,
        step=step,
        unhandled=tuple(unhandled),
        all_calls=tuple(calls),
    )


def _answer_in_progress(messages: Sequence[Message]) -> AssistantMessage | None:
    """The last answer with tool calls, if the conversation ends while handling them."""
    for message in reversed(messages):
        if isinstance(message, ToolResultMessage):
            continue
        if isinstance(message, AssistantMessage) and message.tool_calls:
            return message
        return None
    return None


def _raise_if_finished(events: Sequence[JournalEvent]) -> None:
    finished = next((event for event in reversed(events) if event.type == "run.finished"), None)
    if finished is None:
        return
    reason = str(finished.payload.get("reason") or "Failed")
    if reason not in REASON_STATUS:
        reason = "Failed"
    summary = finished.payload.get("summary")
    raise RunEnded(
        _reason(reason),
        str(finished.payload.get("message") or ""),
        summary=summary if isinstance(summary, str) else None,
        recorded=True,
    )


def _reason(value: str) -> RunReason:
    for reason in REASON_STATUS:
        if reason == value:
            return reason
    return "Failed"


async def _unknown(ctx: RunContext, *, call: ToolCall, rid: str) -> ToolResultMessage:
    text = UNKNOWN_OUTCOME.format(tool=call.name)
    await ctx.recorder.durably(
        lambda: ctx.services.store.tool_calls.mark_unknown(
            run_uid=ctx.request.uid, tool_call_id=rid, reason=text
        )
    )
    await ctx.recorder.audit(
        "tool.outcome_unknown",
        key=f"tool.outcome_unknown:{rid}",
        outcome="unknown",
        target=f"{call.name} in taskrun {ctx.request.namespace}/{ctx.request.name}",
        details={"toolCallId": rid, "why": "the operator stopped during the call"},
    )
    message = ToolResultMessage(tool_call_id=call.id, name=call.name, content=text, is_error=True)
    await ctx.recorder.journal(
        "tool.result",
        event_id=f"tool.result:{rid}",
        payload={"toolCallId": rid, "tool": call.name, "status": "unknown"},
        messages=[message],
    )
    return message
