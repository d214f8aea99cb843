"""The run's counters and what status and Events show of them.

:class:`RunStatus` keeps the counters, the ``Succeeded`` condition and the applied approvals,
and turns every change of reason into one status patch plus, on a transition that tells a
story, one Event (:func:`mission_control.runs.status.transition_event`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mission_control.agent.ports import RunReporter
from mission_control.resources.common import Condition
from mission_control.runs.status import (
    Pending,
    RunReason,
    StepCounts,
    build_status_patch,
    succeeded_condition,
    transition_event,
    truncate_utf8,
)

__all__ = ["EVENT_MESSAGE_MAX_BYTES", "Counters", "ModelTally", "RunStatus"]

#: Event messages are kept short: ``kubectl describe`` shows them on one line each.
EVENT_MESSAGE_MAX_BYTES = 1024


@dataclass
class ModelTally:
    """What one model of the chain answered: requests, tokens, cost at its own price."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Decimal = Decimal(0)

    def to_status(self, *, provider: str, model: str) -> dict[str, Any]:
        return {
            "provider": provider,
            "model": model[:200],
            "requests": self.requests,
            "promptTokens": self.prompt_tokens,
            "completionTokens": self.completion_tokens,
            "costUSD": format(self.cost_usd, "f"),
        }


@dataclass
class Counters:
    """What ``kubectl get taskruns`` shows moving."""

    steps: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    #: Calls the model got wrong (unknown tool, bad arguments, over the per-step bound).
    invalid_calls: int = 0
    #: Per model of the chain (provider, model), so at most the chain's length.
    by_model: dict[tuple[str, str], ModelTally] = field(default_factory=dict)

    def add_usage(
        self, *, link: tuple[str, str], prompt_tokens: int, completion_tokens: int, cost: Decimal
    ) -> None:
        """Count one answered request of the chain's model ``link`` in the totals and by model."""
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cost_usd += cost
        tally = self.by_model.setdefault(link, ModelTally())
        tally.requests += 1
        tally.prompt_tokens += prompt_tokens
        tally.completion_tokens += completion_tokens
        tally.cost_usd += cost

    def by_model_status(self) -> list[dict[str, Any]]:
        return [
            tally.to_status(provider=provider, model=model)
            for (provider, model), tally in self.by_model.items()
        ]

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def snapshot(self) -> StepCounts:
        return StepCounts(
            steps=self.steps,
            tool_calls=self.tool_calls,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost_usd=self.cost_usd,
        )


@dataclass
class RunStatus:
    """Reports the run's state through a :class:`RunReporter`."""

    reporter: RunReporter
    generation: int | None
    clock: Callable[[], dt.datetime]
    counters: Counters = field(default_factory=Counters)
    reason: RunReason | None = None
    condition: Condition | None = None
    applied: list[dict[str, Any]] = field(default_factory=list)
    started: dt.datetime | None = None

    async def report(
        self,
        reason: RunReason,
        message: str,
        *,
        pending: Pending | None = None,
        summary: str | None = None,
        extra: Mapping[str, Any] | None = None,
        event_message: str | None = None,
    ) -> None:
        """One status patch; an Event too when the reason changes in a way worth telling."""
        now = self.clock()
        self.condition = succeeded_condition(
            reason, message=message, generation=self.generation, now=now, previous=self.condition
        )
        done = self.condition.status != "Unknown"
        patch = build_status_patch(
            condition=self.condition,
            counts=self.counters.snapshot(),
            pending=pending,
            summary=summary,
            completion_time=now if done else None,
        )
        if self.counters.by_model:
            patch["usage"]["byModel"] = self.counters.by_model_status()
        if self.applied:
            patch["approvals"] = list(self.applied)
        patch.update(extra or {})
        await self.reporter.patch_status(patch)
        event = transition_event(self.reason, reason)
        self.reason = reason
        if event is not None:
            kind, event_reason = event
            await self.event(event_reason, event_message or message, warning=kind == "Warning")

    async def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        """An Event that is not a change of reason (``Approved``, ``ToolDenied``...)."""
        short = truncate_utf8(message, max_bytes=EVENT_MESSAGE_MAX_BYTES)
        await self.reporter.post_event(reason=reason, message=short, warning=warning)

    def apply_approval(self, *, tool_call_id: str, decision: str, by: str) -> None:
        """Remember a decision the run applied (``status.approvals``)."""
        at = self.clock().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.applied.append({"toolCallId": tool_call_id, "decision": decision, "by": by, "at": at})
