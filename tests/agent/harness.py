"""Our own seam for driving the run loop: a reporter and a control that record and script.

:class:`RecordingReporter` keeps every status patch and Event in order, and applies the
patches to a status dict as the API server would (JSON merge patch).
:class:`ScriptedControl` is the live view of a TaskRun a test steers: approvals appended,
``spec.status`` set to Cancelled, and a change signal the loop waits on.
:func:`stop_while_held` drives a run until its call is held, then stops it as a shutdown would;
:func:`journal` and :func:`usage_rows` read back what a run recorded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from mission_control.agent import AgentServices, RunRequest, drive_run
from mission_control.resources.task import TaskSpec
from mission_control.resources.taskrun import TaskRunSpec
from mission_control.runs.approvals import ApprovalEntry
from mission_control.runs.resolve import DEFAULT_SERVICE_ACCOUNT, RunPolicy, service_account
from mission_control.store import Store

#: What the ``doubles_services`` fixture gives: new AgentServices on the wire doubles per call.
BuildServices = Callable[..., AgentServices]


@dataclass(frozen=True)
class PostedEvent:
    reason: str
    message: str
    warning: bool


def merge_patch(target: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386: what the API server does with a merge patch."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        else:
            target[key] = merge_patch({}, value) if isinstance(value, Mapping) else value
    return target


@dataclass
class RecordingReporter:
    """Records patches and Events; ``status`` is the status they add up to."""

    patches: list[dict[str, Any]] = field(default_factory=list)
    events: list[PostedEvent] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)
    #: Set whenever a patch or an Event arrives, so a test can wait for one.
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        self.patches.append(dict(patch))
        merge_patch(self.status, patch)
        self.changed.set()

    async def post_event(self, *, reason: str, message: str, warning: bool = False) -> None:
        self.events.append(PostedEvent(reason=reason, message=message, warning=warning))
        self.changed.set()

    @property
    def reasons(self) -> list[str]:
        """The condition reason of each patch, in order."""
        return [patch["conditions"][0]["reason"] for patch in self.patches]

    @property
    def condition(self) -> dict[str, Any]:
        condition: dict[str, Any] = self.status["conditions"][0]
        return condition

    def event_reasons(self) -> list[str]:
        return [event.reason for event in self.events]

    async def wait_for_reason(self, reason: str, *, within: float = 60.0) -> dict[str, Any]:
        """Wait until a patch with this condition reason arrives; return the status then."""
        async with asyncio.timeout(within):
            while reason not in self.reasons:
                self.changed.clear()
                await self.changed.wait()
        return self.status

    async def wait_for_events(
        self, reason: str, *, count: int, within: float = 60.0
    ) -> list[PostedEvent]:
        """Wait until ``count`` Events with this reason were posted; return them."""
        async with asyncio.timeout(within):
            while len(found := [e for e in self.events if e.reason == reason]) < count:
                self.changed.clear()
                await self.changed.wait()
        return found


@dataclass
class ScriptedControl:
    """A TaskRun's live spec, as the handler's watch would show it."""

    entries: list[ApprovalEntry] = field(default_factory=list)
    cancel: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def approvals(self) -> Sequence[ApprovalEntry]:
        return list(self.entries)

    def cancelled(self) -> bool:
        return self.cancel

    def cancelled_by(self) -> str:
        return "by the test: no longer needed"

    async def wait_for_change(self) -> None:
        await self.changed.wait()
        self.changed.clear()

    def add(self, *entries: ApprovalEntry) -> None:
        self.entries.extend(entries)
        self.changed.set()

    def set_cancelled(self) -> None:
        self.cancel = True
        self.changed.set()


def run_request(
    *,
    namespace: str,
    task: Mapping[str, Any],
    run: Mapping[str, Any] | None = None,
    policy: RunPolicy | None = None,
    creator: str | None = "alice",
    **extra: Any,
) -> RunRequest:
    """A RunRequest for an inline Task written as its YAML would be (camelCase).

    The ServiceAccount is chosen as the handler chooses it (TaskRun, else Task, else default).
    """
    spec = TaskRunSpec.model_validate({"taskSpec": dict(task), **(run or {})})
    task_spec = TaskSpec.model_validate(dict(task))
    extra.setdefault(
        "service_account",
        service_account(run=spec, task=task_spec, default=DEFAULT_SERVICE_ACCOUNT),
    )
    return RunRequest(
        namespace=namespace,
        name=f"run-{uuid.uuid4().hex[:6]}",
        uid=str(uuid.uuid4()),
        generation=1,
        created_at=dt.datetime.now(dt.UTC),
        creator=creator,
        spec=spec,
        task=task_spec,
        task_name=f"{namespace}/diagnose",
        policy=policy or RunPolicy(),
        **extra,
    )


async def tool_results(services: AgentServices, run_uid: str) -> list[str]:
    """What the model was told of each tool call, in order, from the journal."""
    conversation = await services.store.conversation(run_uid)
    return [m["content"] for m in conversation.messages if m["role"] == "tool"]


async def stop_while_held(services: AgentServices, request: RunRequest) -> dict[str, Any]:
    """Drive the run until its call is held, then stop it as an operator shutdown would.

    Returns ``status.pendingApproval`` as it stood when the run was stopped.
    """
    reporter = RecordingReporter()
    task = asyncio.create_task(
        drive_run(request=request, services=services, reporter=reporter, control=ScriptedControl())
    )
    status = await reporter.wait_for_reason("AwaitingApproval")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pending: dict[str, Any] = status["pendingApproval"]
    return pending


@dataclass(frozen=True, kw_only=True)
class UsageRow:
    """One ``token_usage`` row, as far as the tests read it."""

    provider: str
    model: str
    cost_usd: Decimal


async def usage_rows(store: Store, run_uid: str) -> list[tuple[str, str, Decimal]]:
    """The run's usage rows in order: (provider, model that answered, cost)."""
    rows = await store.db.fetch_all(
        row=UsageRow,
        query="SELECT provider, model, cost_usd FROM token_usage WHERE run_uid = %s ORDER BY id",
        params=(run_uid,),
        action="read usage",
    )
    return [(row.provider, row.model, row.cost_usd) for row in rows]


async def journal(store: Store, run_uid: str) -> list[tuple[str, dict[str, Any]]]:
    """The run's journal entries in order: (type, payload)."""
    return [(e.type, dict(e.payload)) for e in await store.journal.events_after(run_uid)]
