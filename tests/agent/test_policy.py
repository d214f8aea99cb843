"""Policy denials go back to the model, are audited and posted as ToolDenied; the run goes on."""

from __future__ import annotations

import pytest

from mission_control.agent import AgentServices, drive_run
from mission_control.resources.toolpolicy import PolicyRule, ToolPolicySpec
from mission_control.runs.resolve import run_policy
from tests.agent.harness import RecordingReporter, ScriptedControl, run_request, tool_results
from tests.fakes.anthropic import FakeAnthropic
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

TOOLS = ["list_k8s_pods", "get_k8s_events"]


async def test_a_namespace_outside_target_namespaces_and_a_deny_rule_are_denied_and_the_run_goes_on(
    services: AgentServices, agent_namespace: str, scripted_model: ScriptedModelFactory
) -> None:
    ns = agent_namespace
    policy = run_policy(
        namespace=ns,
        name="default",
        generation=3,
        spec=ToolPolicySpec(rules=[PolicyRule(tools=["get_k8s_*"], action="Deny")]),
    )
    model = scripted_model(
        turns=[
            call("list_k8s_pods", namespace="kube-system"),
            call("get_k8s_events", namespace=ns),
            call("list_k8s_pods", namespace=ns),
            say("Nothing is running."),
        ]
    )
    task = {"prompt": "Check.", "tools": TOOLS, "model": {"provider": "ollama", "name": model}}
    request = run_request(namespace=ns, task=task, policy=policy)
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert outcome.reason == "Succeeded"
    outside, ruled, allowed = await tool_results(services, request.uid)
    assert outside.startswith(
        f"denied by policy {ns}/default: namespace kube-system is outside targetNamespaces [{ns}]"
    )
    assert ruled.startswith(f"denied by policy {ns}/default: a rule for get_k8s_*")
    assert allowed == f"no pods in namespace {ns}"
    denied = [event for event in reporter.events if event.reason == "ToolDenied"]
    assert [event.warning for event in denied] == [True, True]
    assert "kube-system" in denied[0].message
    assert reporter.status["resolved"]["policy"] == f"{ns}/default"
    assert reporter.status["resolved"]["policyGeneration"] == 3
    audit = await services.store.audit.entries(run_uid=request.uid)
    denials = [entry for entry in audit if entry.action == "tool.denied"]
    assert [entry.decision for entry in denials] == ["Deny", "Deny"]
    assert denials[0].details["reason"] == outside.split(". This is final")[0]
    records = await services.store.tool_calls.for_run(request.uid)
    assert [record.tool for record in records] == ["list_k8s_pods"]  # denied calls never ran


async def test_a_tool_not_in_the_task_and_an_unknown_tool_go_back_to_the_model(
    services: AgentServices, agent_namespace: str, fake_anthropic: FakeAnthropic
) -> None:
    ns = agent_namespace
    fake_anthropic.call(
        ("delete_k8s_pod", {"namespace": ns, "name": "web-0"}),
        ("rm_everything", {"namespace": ns}),
    )
    fake_anthropic.say("I may not do that.")
    task = {"prompt": "Clean up.", "tools": TOOLS, "model": {"provider": "anthropic"}}
    request = run_request(namespace=ns, task=task)
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert (outcome.reason, outcome.summary) == ("Succeeded", "I may not do that.")
    not_in_task, unknown = await tool_results(services, request.uid)
    assert not_in_task.startswith(
        f"denied by Task {ns}/diagnose: tool delete_k8s_pod is not among the Task's tools "
        "[get_k8s_events, list_k8s_pods]"
    )
    assert unknown == (
        "unknown tool 'rm_everything': there is no such tool; you may call: "
        "get_k8s_events, list_k8s_pods"
    )
    assert reporter.event_reasons() == ["Started", "ToolDenied", "Succeeded"]
    assert (reporter.status["toolCalls"], outcome.counts.tool_calls) == (2, 2)
    # What the provider was offered: only the Task's tools.
    offered = [tool["name"] for tool in fake_anthropic.sent[0]["tools"]]
    assert offered == TOOLS
