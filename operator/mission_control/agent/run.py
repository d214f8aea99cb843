"""The entry points: :func:`drive_run` one TaskRun to its end, or :func:`report_invalid` it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from mission_control.agent.ports import RunControl, RunReporter
from mission_control.agent.request import AgentServices, RunOutcome, RunRequest
from mission_control.runs.status import (
    RunReason,
    StepCounts,
    build_status_patch,
    succeeded_condition,
    transition_event,
)

__all__ = ["drive_run", "report_invalid"]

_NO_COUNTS = StepCounts(
    steps=0, tool_calls=0, prompt_tokens=0, completion_tokens=0, cost_usd=Decimal(0)
)


async def drive_run(
    *,
    request: RunRequest,
    services: AgentServices,
    reporter: RunReporter,
    control: RunControl,
) -> RunOutcome:
    """Run the TaskRun from its first LLM request to its end; return how it ended."""
    raise NotImplementedError("the run loop is being built")


async def report_invalid(
    *,
    reporter: RunReporter,
    reason: RunReason,
    message: str,
    generation: int | None,
    now: dt.datetime,
) -> RunOutcome:
    """End a run that cannot start (``InvalidTask``...): one status patch and one Event."""
    condition = succeeded_condition(
        reason, message=message, generation=generation, now=now, previous=None
    )
    await reporter.patch_status(
        build_status_patch(
            condition=condition, counts=_NO_COUNTS, pending=None, completion_time=now
        )
    )
    event = transition_event(None, reason)
    if event is not None:
        kind, event_reason = event
        await reporter.post_event(reason=event_reason, message=message, warning=kind == "Warning")
    return RunOutcome(reason=reason, message=message, summary=None, counts=_NO_COUNTS)
