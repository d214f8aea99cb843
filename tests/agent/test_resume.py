"""A run picks up from its journal when its daemon is stopped and started again.

Stopping is cancelling the task that drives the run (what kopf does to a daemon when the
operator stops); the second drive gets the same request, as after a restart.
"""

from __future__ import annotations

import pytest

from mission_control.agent import AgentServices, drive_run
from mission_control.agent.request import RunRequest
from mission_control.runs.approvals import ApprovalEntry, args_digest
from tests.agent.harness import RecordingReporter, ScriptedControl, run_request, stop_while_held
from tests.controlplane.launcher import Cluster
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import call, say
from tests.tools.kubernetes.helpers import create, pod

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


def pod_names(cluster: Cluster, namespace: str) -> list[str]:
    return cluster.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout.split()


@pytest.fixture
def request_to_delete(
    controlplane: Cluster, agent_namespace: str, scripted_model: ScriptedModelFactory
) -> RunRequest:
    ns = agent_namespace
    create(controlplane, ns, pod("web-0"))
    model = scripted_model(turns=[call("delete_k8s_pod", namespace=ns, name="web-0"), say("Ok.")])
    task = {
        "prompt": "Delete the stuck pod.",
        "tools": ["delete_k8s_pod"],
        "model": {"provider": "ollama", "name": model},
    }
    return run_request(namespace=ns, task=task)


async def test_a_run_stopped_while_held_resumes_and_applies_the_approval(
    services: AgentServices, controlplane: Cluster, request_to_delete: RunRequest
) -> None:
    request = request_to_delete
    pending = await stop_while_held(services, request)
    control = ScriptedControl()
    control.add(ApprovalEntry(tool_call_id=pending["toolCallId"], decision="Approve", by="bob"))
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=control
    )

    assert (outcome.reason, outcome.summary) == ("Succeeded", "Ok.")
    assert pod_names(controlplane, request.namespace) == []
    assert "Started" not in reporter.event_reasons()
    assert reporter.status["steps"] == 2
    kinds = [e.type for e in await services.store.journal.events_after(request.uid)]
    assert kinds.count("run.started") == 1
    assert kinds.count("run.resumed") == 1
    assert kinds.count("llm.response") == 2
    [record] = await services.store.tool_calls.for_run(request.uid)
    assert (record.tool_call_id, record.status) == (pending["toolCallId"], "completed")
    run = await services.store.runs.get(request.uid)
    assert run is not None
    assert run.start_time is not None
    assert (run.reason, run.steps) == ("Succeeded", 2)


async def test_a_call_whose_outcome_was_never_recorded_is_not_repeated(
    services: AgentServices, controlplane: Cluster, request_to_delete: RunRequest
) -> None:
    request = request_to_delete
    pending = await stop_while_held(services, request)
    arguments = {"namespace": request.namespace, "name": "web-0"}
    # What the store holds when the operator died right after committing the intent.
    await services.store.tool_calls.record_intent(
        run_uid=request.uid,
        tool_call_id=pending["toolCallId"],
        tool="delete_k8s_pod",
        risk="DESTRUCTIVE",
        arguments=arguments,
        args_digest=args_digest(arguments),
        decision="Approved",
        approver="bob",
    )

    outcome = await drive_run(
        request=request, services=services, reporter=RecordingReporter(), control=ScriptedControl()
    )

    assert outcome.reason == "Succeeded"
    assert pod_names(controlplane, request.namespace) == ["pod/web-0"]
    [record] = await services.store.tool_calls.for_run(request.uid)
    assert record.status == "unknown"
    conversation = await services.store.conversation(request.uid)
    [result] = [m for m in conversation.messages if m["role"] == "tool"]
    assert result["content"].startswith(
        "the operator stopped while delete_k8s_pod was running, so its outcome is unknown"
    )
    actions = [e.action for e in await services.store.audit.entries(run_uid=request.uid)]
    assert "tool.outcome_unknown" in actions


async def test_a_finished_run_driven_again_only_reports_its_end(
    services: AgentServices, agent_namespace: str, scripted_model: ScriptedModelFactory
) -> None:
    model = scripted_model(turns=[say("All fine.")])
    task = {"prompt": "Check.", "tools": ["list_k8s_pods"],
            "model": {"provider": "ollama", "name": model}}  # fmt: skip
    request = run_request(namespace=agent_namespace, task=task)
    await drive_run(
        request=request, services=services, reporter=RecordingReporter(), control=ScriptedControl()
    )
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert (outcome.reason, outcome.summary) == ("Succeeded", "All fine.")
    assert reporter.status["result"] == {"summary": "All fine."}
    assert reporter.status["steps"] == 1
    assert reporter.event_reasons() == ["Succeeded"]
    kinds = [e.type for e in await services.store.journal.events_after(request.uid)]
    assert kinds.count("llm.request") == 1
    assert kinds.count("run.finished") == 1
