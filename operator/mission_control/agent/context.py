"""What every part of one run shares: its request, services, identity, scope and deadline."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from mission_control.agent.ports import RunControl
from mission_control.agent.record import RunRecorder
from mission_control.agent.request import AgentServices, RunRequest
from mission_control.agent.status import RunStatus
from mission_control.llm.chain import FallbackChain
from mission_control.llm.provider import ChatProvider
from mission_control.runs.policy import RunScope
from mission_control.runs.status import RunReason
from mission_control.tools import Tool, ToolContext

__all__ = ["RunClock", "RunContext", "RunEnded"]


class RunEnded(Exception):
    """Ends the run from deep inside a step with a reason and a message for the user."""

    def __init__(
        self,
        reason: RunReason,
        message: str,
        *,
        summary: str | None = None,
        recorded: bool = False,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        #: The final answer, for a run found already answered in its journal.
        self.summary = summary
        #: The end is already in the journal (a resumed run that had finished).
        self.recorded = recorded


@dataclass
class RunClock:
    """The run's deadline in :func:`time.monotonic` seconds; waiting for people pauses it."""

    timeout_seconds: int | None
    deadline: float | None = None

    def start(self) -> None:
        if self.timeout_seconds is not None:
            self.deadline = time.monotonic() + self.timeout_seconds

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def pause(self, seconds: float) -> None:
        """Waiting for an approval is not active time: move the deadline on."""
        if self.deadline is not None:
            self.deadline += seconds


@dataclass(kw_only=True)
class RunContext:
    """One run's shared state (mutable: the clock and the status move as it goes)."""

    request: RunRequest
    services: AgentServices
    control: RunControl
    recorder: RunRecorder
    status: RunStatus
    #: The primary model; ``chain`` holds it first, then its fallbacks.
    client: ChatProvider
    model: str
    chain: FallbackChain
    tools: ToolContext
    offered: dict[str, Tool[Any]]
    scope: RunScope
    clock: RunClock
    impersonate: str
    task_label: str
    #: How many times the run was picked up from its journal ("" the first time): a resumed
    #: step asks the model again, under keys of its own.
    attempt: str = ""
    seen_ignored: set[tuple[str, str]] = field(default_factory=set)

    def check_cancelled(self) -> None:
        if self.control.cancelled():
            who = self.control.cancelled_by()
            raise RunEnded(
                "Cancelled",
                "cancelled: spec.status was set to Cancelled" + (f" {who}" if who else ""),
            )

    async def until_cancelled(self) -> None:
        """Return once ``spec.status`` says Cancelled (woken by changes, never polling)."""
        while not self.control.cancelled():
            await self.control.wait_for_change()

    def check_deadline(self) -> None:
        if self.clock.expired():
            seconds = self.clock.timeout_seconds
            raise RunEnded(
                "TimedOut",
                f"the run took longer than limits.timeoutSeconds ({seconds}s) of the Task; "
                "raise it or narrow the prompt",
            )
