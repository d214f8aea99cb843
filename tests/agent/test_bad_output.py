"""What a model gets wrong goes back to it as a tool error, counted; it never crashes a run."""

from __future__ import annotations

import pytest

from mission_control.agent import AgentServices, drive_run
from tests.agent.harness import RecordingReporter, ScriptedControl, run_request, tool_results
from tests.fakes.anthropic import FakeAnthropic
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import Turn, call, json_call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

TOOLS = ["list_k8s_pods", "get_k8s_events"]


async def test_bad_arguments_unreadable_json_json_as_text_and_an_empty_answer_are_survived(
    services: AgentServices, agent_namespace: str, scripted_model: ScriptedModelFactory
) -> None:
    ns = agent_namespace
    model = scripted_model(
        turns=[
            call("list_k8s_pods", namespace="Not_A_Namespace!"),
            Turn(text='{"name": "get_k8s_events", "arguments": "{namespace: oops"}'),
            json_call("list_k8s_pods", namespace=ns),
            say(" "),  # blank: the scripted model cannot produce nothing at all
            say("No pods, nothing wrong."),
        ]
    )
    task = {"prompt": "Check.", "tools": TOOLS, "model": {"provider": "ollama", "name": model}}
    request = run_request(namespace=ns, task=task)
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert (outcome.reason, outcome.summary) == ("Succeeded", "No pods, nothing wrong.")
    bad_args, bad_json, repaired = await tool_results(services, request.uid)
    assert bad_args.startswith("invalid arguments for list_k8s_pods: namespace: String should")
    assert bad_args.endswith("; fix the arguments and call list_k8s_pods again")
    assert bad_json.startswith(
        "the arguments of get_k8s_events could not be read: the arguments are not valid JSON"
    )
    assert repaired == f"no pods in namespace {ns}"
    conversation = await services.store.conversation(request.uid)
    nudges = [m for m in conversation.messages if m["role"] == "user"][1:]
    assert [m["content"] for m in nudges] == [
        "Your answer was empty. Call one of the tools, or give your final answer as text."
    ]
    assert (reporter.status["steps"], reporter.status["toolCalls"]) == (5, 3)
    events = await services.store.journal.events_after(request.uid)
    assert events[-1].payload["invalidCalls"] == 3  # two bad calls and one empty answer
    records = await services.store.tool_calls.for_run(request.uid)
    assert [record.tool for record in records] == ["list_k8s_pods"]  # only the valid call ran


async def test_four_hundred_calls_in_one_answer_are_bounded_and_the_rest_refused(
    services: AgentServices, agent_namespace: str, fake_anthropic: FakeAnthropic
) -> None:
    # The scripted Ollama models cannot hold an answer this long; the wire double can.
    ns = agent_namespace
    fake_anthropic.call(*[("list_k8s_pods", {"namespace": ns})] * 400)
    fake_anthropic.say("Enough.")
    task = {"prompt": "Check.", "tools": TOOLS, "model": {"provider": "anthropic"}}
    request = run_request(namespace=ns, task=task)
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert outcome.reason == "Succeeded"
    results = await tool_results(services, request.uid)
    assert len(results) == 400
    assert results[:16] == [f"no pods in namespace {ns}"] * 16
    assert set(results[16:]) == {
        "refused: at most 16 tool calls are run per answer and this answer asked for 400; "
        "the first 16 were handled. Ask again for the ones that matter."
    }
    assert reporter.status["toolCalls"] == 400
    assert len(await services.store.tool_calls.for_run(request.uid)) == 16
    actions = [e.action for e in await services.store.audit.entries(run_uid=request.uid)]
    assert actions.count("tool.refused") == 1
