"""Held calls: status shows the pending call, people decide through spec.approvals, the loop
applies the decision (quorum, four-eyes, digests) without polling, and a Reject goes back to
the model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from mission_control.agent import AgentServices, RunOutcome, drive_run
from mission_control.agent.request import RunRequest
from mission_control.resources.toolpolicy import Approver
from mission_control.runs.approvals import ApprovalEntry
from mission_control.runs.resolve import RunPolicy
from tests.agent.harness import RecordingReporter, ScriptedControl, run_request
from tests.controlplane.launcher import Cluster
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import call, say
from tests.tools.kubernetes.helpers import create, pod

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


def pod_names(cluster: Cluster, namespace: str) -> list[str]:
    result = cluster.kubectl("get", "pods", "-n", namespace, "-o", "name")
    return result.stdout.split()


class HeldRun:
    """A run going on in the background, held on its first call."""

    def __init__(self, task: asyncio.Task[RunOutcome], reporter: RecordingReporter) -> None:
        self.task = task
        self.reporter = reporter

    async def pending(self) -> dict[str, Any]:
        status = await self.reporter.wait_for_reason("AwaitingApproval")
        pending: dict[str, Any] = status["pendingApproval"]
        return pending


@asynccontextmanager
async def held_run(
    *, services: AgentServices, request: RunRequest
) -> AsyncIterator[tuple[HeldRun, Callable[[], Any]]]:
    reporter = RecordingReporter()
    control = ScriptedControl()
    task = asyncio.create_task(
        drive_run(request=request, services=services, reporter=reporter, control=control)
    )
    run = HeldRun(task, reporter)
    try:
        yield run, control.add
    finally:
        if not task.done():
            control.set_cancelled()
        await asyncio.wait_for(asyncio.shield(task), timeout=60)


def delete_task(model: str) -> dict[str, Any]:
    return {
        "prompt": "Delete the stuck pod.",
        "tools": ["list_k8s_pods", "delete_k8s_pod"],
        "model": {"provider": "ollama", "name": model},
    }


async def test_an_approved_destructive_call_is_executed(
    services: AgentServices,
    controlplane: Cluster,
    agent_namespace: str,
    scripted_model: ScriptedModelFactory,
) -> None:
    ns = agent_namespace
    create(controlplane, ns, pod("web-0"))
    model = scripted_model(turns=[call("delete_k8s_pod", namespace=ns, name="web-0"), say("Done.")])
    request = run_request(namespace=ns, task=delete_task(model))

    async with held_run(services=services, request=request) as (run, approve):
        pending = await run.pending()
        assert (pending["tool"], pending["risk"]) == ("delete_k8s_pod", "DESTRUCTIVE")
        assert pending["arguments"] == f'{{"name":"web-0","namespace":"{ns}"}}'
        assert pod_names(controlplane, ns) == ["pod/web-0"]  # nothing happens while held
        stored = await services.store.runs.get(request.uid)
        assert stored is not None
        assert stored.reason == "AwaitingApproval"  # what the read-only API lists
        approve(
            ApprovalEntry(
                tool_call_id=pending["toolCallId"],
                decision="Approve",
                by="bob",
                args_digest=pending["argsDigest"],
            )
        )
        outcome = await run.task

    assert outcome.reason == "Succeeded"
    assert pod_names(controlplane, ns) == []
    reporter = run.reporter
    assert reporter.event_reasons() == ["Started", "AwaitingApproval", "Approved", "Succeeded"]
    assert reporter.reasons[:3] == ["Running", "AwaitingApproval", "Running"]
    assert "pendingApproval" not in reporter.status
    [applied] = reporter.status["approvals"]
    assert (applied["toolCallId"], applied["decision"], applied["by"]) == (
        pending["toolCallId"],
        "Approve",
        "bob",
    )
    [record] = await services.store.tool_calls.for_run(request.uid)
    assert (record.decision, record.approver, record.status) == ("Approved", "bob", "completed")
    audit = await services.store.audit.entries(run_uid=request.uid)
    by_action = {entry.action: entry for entry in audit}
    assert by_action["tool.held"].decision == "RequireApproval"
    assert (by_action["tool.approved"].actor, by_action["tool.approved"].actor_kind) == (
        "bob",
        "user",
    )
    assert by_action["tool.executed"].outcome == "completed"


async def test_a_rejected_call_is_told_to_the_model_and_the_run_completes(
    services: AgentServices,
    controlplane: Cluster,
    agent_namespace: str,
    scripted_model: ScriptedModelFactory,
) -> None:
    ns = agent_namespace
    create(controlplane, ns, pod("web-0"))
    model = scripted_model(
        turns=[call("delete_k8s_pod", namespace=ns, name="web-0"), say("Left it alone.")]
    )
    request = run_request(namespace=ns, task=delete_task(model))

    async with held_run(services=services, request=request) as (run, decide):
        pending = await run.pending()
        decide(
            ApprovalEntry(
                tool_call_id=pending["toolCallId"],
                decision="Reject",
                by="bob",
                message="it serves traffic",
            )
        )
        outcome = await run.task

    assert (outcome.reason, outcome.summary) == ("Succeeded", "Left it alone.")
    assert pod_names(controlplane, ns) == ["pod/web-0"]
    conversation = await services.store.conversation(request.uid)
    [result] = [m for m in conversation.messages if m["role"] == "tool"]
    assert result["content"].startswith("rejected by bob: it serves traffic. The call was not made")
    assert result["is_error"] is True
    assert run.reporter.event_reasons() == ["Started", "AwaitingApproval", "Rejected", "Succeeded"]
    assert await services.store.tool_calls.for_run(request.uid) == []


async def test_a_quorum_needs_distinct_valid_approvers_and_ignored_entries_are_reported(
    services: AgentServices,
    controlplane: Cluster,
    agent_namespace: str,
    scripted_model: ScriptedModelFactory,
) -> None:
    ns = agent_namespace
    create(controlplane, ns, pod("web-0"))
    model = scripted_model(turns=[call("delete_k8s_pod", namespace=ns, name="web-0"), say("Done.")])
    policy = RunPolicy(
        approvers=(Approver(kind="User", name="bob"), Approver(kind="Group", name="sre")),
        required_approvals=2,
        forbid_self_approval=True,
    )
    request = run_request(namespace=ns, task=delete_task(model), policy=policy, creator="alice")

    async with held_run(services=services, request=request) as (run, add):
        pending = await run.pending()
        call_id = pending["toolCallId"]
        add(
            ApprovalEntry(tool_call_id=call_id, decision="Approve", by="bob"),
            ApprovalEntry(
                tool_call_id=call_id, decision="Approve", by="carol", groups=("sre",),
                args_digest="sha256:" + "0" * 64,
            ),
            ApprovalEntry(tool_call_id=call_id, decision="Approve", by="alice", groups=("sre",)),
            ApprovalEntry(tool_call_id=call_id, decision="Approve", by="mallory"),
        )  # fmt: skip
        ignored = await run.reporter.wait_for_events("ApprovalIgnored", count=3)
        # One valid approval of two: still held, nothing deleted.
        assert run.reporter.reasons[-1] == "AwaitingApproval"
        assert pod_names(controlplane, ns) == ["pod/web-0"]
        add(ApprovalEntry(tool_call_id=call_id, decision="Approve", by="dave", groups=("sre",)))
        outcome = await run.task

    assert sorted(event.message.split(": ")[-1] for event in ignored) == [
        "not an approver",
        "self-approval",
        "wrong digest",
    ]
    assert outcome.reason == "Succeeded"
    assert pod_names(controlplane, ns) == []
    [record] = await services.store.tool_calls.for_run(request.uid)
    assert record.approver == "bob,dave"
    audit = await services.store.audit.entries(run_uid=request.uid)
    assert sorted(e.actor for e in audit if e.action == "approval.ignored") == [
        "alice",
        "carol",
        "mallory",
    ]


async def test_a_held_call_without_a_decision_in_time_ends_the_run(
    services: AgentServices,
    controlplane: Cluster,
    agent_namespace: str,
    scripted_model: ScriptedModelFactory,
) -> None:
    ns = agent_namespace
    create(controlplane, ns, pod("web-0"))
    model = scripted_model(turns=[call("delete_k8s_pod", namespace=ns, name="web-0"), say("Done.")])
    request = run_request(
        namespace=ns, task=delete_task(model), policy=RunPolicy(approval_timeout_seconds=1)
    )
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert outcome.reason == "ApprovalTimedOut"
    assert "within 1s (the policy's approvalTimeoutSeconds)" in outcome.message
    assert reporter.event_reasons() == ["Started", "AwaitingApproval", "TimedOut"]
    assert "pendingApproval" not in reporter.status
    assert pod_names(controlplane, ns) == ["pod/web-0"]


async def test_cancelling_a_held_run_ends_it_without_running_the_call(
    services: AgentServices,
    controlplane: Cluster,
    agent_namespace: str,
    scripted_model: ScriptedModelFactory,
) -> None:
    ns = agent_namespace
    create(controlplane, ns, pod("web-0"))
    model = scripted_model(turns=[call("delete_k8s_pod", namespace=ns, name="web-0"), say("Done.")])
    request = run_request(namespace=ns, task=delete_task(model))
    reporter, control = RecordingReporter(), ScriptedControl()
    run = asyncio.create_task(
        drive_run(request=request, services=services, reporter=reporter, control=control)
    )
    await reporter.wait_for_reason("AwaitingApproval")

    control.set_cancelled()
    outcome = await run

    assert outcome.reason == "Cancelled"
    assert reporter.event_reasons()[-1] == "Cancelled"
    assert "pendingApproval" not in reporter.status
    assert pod_names(controlplane, ns) == ["pod/web-0"]
    assert await services.store.tool_calls.for_run(request.uid) == []
