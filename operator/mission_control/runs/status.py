"""A TaskRun's status: the ``Succeeded`` condition, the status patch, and transition Events.

Status stays small: the pending call's arguments are cut to 2 KiB and the final answer to 8 KiB
(UTF-8 bytes, never splitting a character, ending with :data:`TRUNCATED`); the full texts live in
the journal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from mission_control.resources.common import Condition, ConditionStatus
from mission_control.runs.policy import Risk

__all__ = [
    "ARGUMENTS_MAX_BYTES",
    "DONE_REASONS",
    "REASON_STATUS",
    "SUMMARY_MAX_BYTES",
    "TRUNCATED",
    "EventReason",
    "Pending",
    "RunReason",
    "StepCounts",
    "build_status_patch",
    "succeeded_condition",
    "transition_event",
    "truncate_utf8",
]

RunReason = Literal[
    "Pending",
    "Queued",
    "Started",
    "Running",
    "AwaitingApproval",
    "WaitingForJournal",
    "Succeeded",
    "Failed",
    "Cancelled",
    "TimedOut",
    "LimitExceeded",
    "ApprovalTimedOut",
    "ProviderError",
    "InvalidTask",
    "InvalidParams",
    "Interrupted",
]
EventReason = Literal[
    "Started",
    "AwaitingApproval",
    "Approved",
    "Rejected",
    "ToolDenied",
    "Succeeded",
    "Failed",
    "Cancelled",
    "TimedOut",
]

#: The ``Succeeded`` condition's status for each reason.
REASON_STATUS: Mapping[RunReason, ConditionStatus] = {
    "Pending": "Unknown",
    "Queued": "Unknown",
    "Started": "Unknown",
    "Running": "Unknown",
    "AwaitingApproval": "Unknown",
    "WaitingForJournal": "Unknown",
    "Succeeded": "True",
    "Failed": "False",
    "Cancelled": "False",
    "TimedOut": "False",
    "LimitExceeded": "False",
    "ApprovalTimedOut": "False",
    "ProviderError": "False",
    "InvalidTask": "False",
    "InvalidParams": "False",
    "Interrupted": "False",
}
DONE_REASONS = frozenset(reason for reason, s in REASON_STATUS.items() if s != "Unknown")
TRUNCATED = "…[truncated]"
ARGUMENTS_MAX_BYTES = 2048
SUMMARY_MAX_BYTES = 8192
_EVENT_ON_ENTRY: Mapping[RunReason, EventReason] = {
    "Started": "Started",
    "AwaitingApproval": "AwaitingApproval",
    "Succeeded": "Succeeded",
    "Cancelled": "Cancelled",
    "TimedOut": "TimedOut",
    "ApprovalTimedOut": "TimedOut",
}


def succeeded_condition(
    reason: RunReason,
    *,
    message: str,
    generation: int | None,
    now: datetime,
    previous: Condition | None,
) -> Condition:
    """The ``Succeeded`` condition; ``lastTransitionTime`` moves only when status or reason do."""
    status = REASON_STATUS[reason]
    unchanged = (
        previous is not None
        and previous.status == status
        and previous.reason == reason
        and previous.last_transition_time is not None
    )
    return Condition(
        type="Succeeded",
        status=status,
        reason=reason,
        message=message,
        last_transition_time=(
            previous.last_transition_time if unchanged and previous else now.replace(microsecond=0)
        ),
        observed_generation=generation,
    )


def transition_event(
    previous: RunReason | None, current: RunReason
) -> tuple[Literal["Normal", "Warning"], EventReason] | None:
    """The Event to post when the run's reason moves from ``previous`` to ``current``, if any.

    Leaving a wait (queued, journal, approval) for ``Running`` is not a story worth an Event;
    a run that never passed ``Started`` (pending or queued) gets ``Started`` on its first step.
    """
    if previous == current:
        return None
    if current == "Running" and previous in (None, "Pending", "Queued"):
        return ("Normal", "Started")
    if current in _EVENT_ON_ENTRY:
        event = _EVENT_ON_ENTRY[current]
        return ("Warning" if event == "TimedOut" else "Normal", event)
    if REASON_STATUS[current] == "False":
        return ("Warning", "Failed")
    return None


@dataclass(frozen=True)
class StepCounts:
    """Counters shown by ``kubectl get taskruns``."""

    steps: int
    tool_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal


@dataclass(frozen=True)
class Pending:
    """The held call as status shows it."""

    tool_call_id: str
    tool: str
    risk: Risk
    arguments_json: str
    args_digest: str
    requested_at: datetime
    expires_at: datetime


def build_status_patch(
    *,
    condition: Condition,
    counts: StepCounts,
    pending: Pending | None,
    summary: str | None = None,
    completion_time: datetime | None = None,
) -> dict[str, Any]:
    """A JSON merge patch for the status subresource.

    ``pendingApproval`` is always present: the held call, or ``null`` to clear a settled one.
    """
    patch: dict[str, Any] = {
        "observedGeneration": condition.observed_generation,
        "conditions": [condition.to_k8s()],
        "steps": counts.steps,
        "toolCalls": counts.tool_calls,
        "usage": {
            "promptTokens": counts.prompt_tokens,
            "completionTokens": counts.completion_tokens,
            "totalTokens": counts.prompt_tokens + counts.completion_tokens,
            "costUSD": format(counts.cost_usd, "f"),
        },
        "pendingApproval": None if pending is None else _pending(pending),
    }
    if summary is not None:
        patch["result"] = {"summary": truncate_utf8(summary, max_bytes=SUMMARY_MAX_BYTES)}
    if completion_time is not None:
        patch["completionTime"] = _timestamp(completion_time)
    return patch


def truncate_utf8(text: str, *, max_bytes: int, marker: str = TRUNCATED) -> str:
    """``text`` if it fits in ``max_bytes`` of UTF-8, else its longest prefix plus ``marker``."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    room = max_bytes - len(marker.encode("utf-8"))
    # errors="ignore" drops a character cut in half at the end.
    return encoded[: max(room, 0)].decode("utf-8", errors="ignore") + marker


def _pending(pending: Pending) -> dict[str, Any]:
    return {
        "toolCallId": pending.tool_call_id,
        "tool": pending.tool,
        "risk": pending.risk,
        "arguments": truncate_utf8(pending.arguments_json, max_bytes=ARGUMENTS_MAX_BYTES),
        "argsDigest": pending.args_digest,
        "requestedAt": _timestamp(pending.requested_at),
        "expiresAt": _timestamp(pending.expires_at),
    }


def _timestamp(moment: datetime) -> str:
    # RFC 3339 in UTC with a Z, as the API server writes times; a naive time has no meaning.
    if moment.tzinfo is None:
        raise ValueError("status times must carry a time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
