"""A read-only diagnosis over real pods and events runs to Succeeded, on the record."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from mission_control.agent import AgentServices, drive_run
from mission_control.store import Store
from tests.agent.harness import RecordingReporter, ScriptedControl, run_request
from tests.controlplane.launcher import Cluster
from tests.fakes.gemini import FakeGemini
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

SUMMARY = "Pod web-0 is Pending: nothing schedules it (no scheduler in this cluster)."


def diagnose(model: str, **task: Any) -> dict[str, Any]:
    return {
        "prompt": "Why is web-0 in $(params.ns) not running?",
        "params": [{"name": "ns"}],
        "tools": ["list_k8s_pods", "get_k8s_events", "restart_k8s_deployment"],
        "model": {"provider": "ollama", "name": model},
        **task,
    }


async def count(store: Store, table: str, run_uid: str) -> int:
    value = await store.db.fetch_value(
        query=f"SELECT count(*) FROM {table} WHERE run_uid = %s",
        params=(run_uid,),
        action="count rows",
    )
    return int(value)


async def test_a_read_only_diagnosis_succeeds_with_a_summary_and_a_full_record(
    services: AgentServices,
    controlplane: Cluster,
    agent_namespace: str,
    scripted_model: ScriptedModelFactory,
) -> None:
    ns = agent_namespace
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0"},
           "spec": {"containers": [{"name": "app", "image": "registry.lan/web:1"}]}}  # fmt: skip
    controlplane.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(pod))
    model = scripted_model(
        turns=[
            call("list_k8s_pods", namespace=ns),
            call("get_k8s_events", namespace=ns),
            say(SUMMARY),
        ]
    )
    request = run_request(
        namespace=ns, task=diagnose(model), run={"params": [{"name": "ns", "value": ns}]}
    )
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert (outcome.reason, outcome.summary) == ("Succeeded", SUMMARY)
    status = reporter.status
    assert status["result"] == {"summary": SUMMARY}
    assert reporter.condition["status"] == "True"
    assert (status["steps"], status["toolCalls"]) == (3, 2)
    assert status["usage"]["totalTokens"] > 0
    assert status["resolved"]["tools"] == request.task.tools
    assert status["resolved"]["model"] == model
    assert "startTime" in status
    assert "completionTime" in status
    # One patch at the start and one per step (the last one is the final status): steps + 1.
    assert reporter.reasons == ["Running", "Running", "Running", "Succeeded"]
    assert reporter.event_reasons() == ["Started", "Succeeded"]
    # The tokens shown grew step by step.
    totals = [patch["usage"]["totalTokens"] for patch in reporter.patches]
    assert totals[1] < totals[2] < totals[3]

    store = services.store
    events = await store.journal.events_after(request.uid)
    kinds = [event.type for event in events]
    assert kinds[0] == "run.started"
    assert kinds[-1] == "run.finished"
    assert kinds.count("llm.request") == kinds.count("llm.response") == 3
    assert kinds.count("tool.result") == 2
    assert await count(store, "llm_requests", request.uid) == 3
    assert await count(store, "llm_responses", request.uid) == 3
    usage = await store.usage.run_total(request.uid)
    assert usage.requests == 3
    assert usage.total_tokens == status["usage"]["totalTokens"]
    conversation = await store.conversation(request.uid)
    tool_texts = [m["content"] for m in conversation.messages if m["role"] == "tool"]
    assert "web-0" in tool_texts[0]
    first_user = next(m for m in conversation.messages if m["role"] == "user")
    assert first_user["content"] == f"Why is web-0 in {ns} not running?"
    records = await store.tool_calls.for_run(request.uid)
    assert [(r.tool, r.status) for r in records] == [
        ("list_k8s_pods", "completed"),
        ("get_k8s_events", "completed"),
    ]
    audit = await store.audit.entries(run_uid=request.uid)
    actions = [entry.action for entry in audit]
    assert actions.count("tool.allowed") == 2
    assert actions.count("tool.executed") == 2
    run = await store.runs.get(request.uid)
    assert run is not None
    assert (run.reason, run.steps, run.succeeded) == ("Succeeded", 3, "True")
    assert run.start_time is not None
    assert (run.provider, run.model) == ("ollama", model)


async def test_a_diagnosis_through_gemini_is_priced_and_recorded(
    services: AgentServices, agent_namespace: str, fake_gemini: FakeGemini
) -> None:
    ns = agent_namespace
    fake_gemini.call(("list_k8s_pods", {"namespace": ns}), prompt_tokens=1000)
    fake_gemini.say("No pods at all.", prompt_tokens=1200, completion_tokens=40)
    task = {
        "prompt": "How are the pods?",
        "tools": ["list_k8s_pods"],
        "model": {"provider": "gemini"},
    }
    request = run_request(namespace=ns, task=task)
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert (outcome.reason, outcome.summary) == ("Succeeded", "No pods at all.")
    usage = reporter.status["usage"]
    assert (usage["promptTokens"], usage["completionTokens"]) == (2200, 45)
    assert Decimal(usage["costUSD"]) > 0
    assert reporter.status["resolved"]["provider"] == "gemini"
    total = await services.store.usage.run_total(request.uid)
    assert total.cost_usd == Decimal(usage["costUSD"])
    # The tool result went back to Gemini tied to its call.
    second = fake_gemini.generations[1]
    response = second["contents"][-1]["parts"][0]["functionResponse"]
    assert response["name"] == "list_k8s_pods"
