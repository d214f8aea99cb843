"""How runs end other than with an answer: limits, bad params, providers, cancellation."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from mission_control.agent import AgentServices, drive_run
from mission_control.llm import Providers
from mission_control.resources.toolpolicy import Budgets
from mission_control.runs.resolve import RunPolicy
from mission_control.store import Store
from tests.agent.harness import RecordingReporter, ScriptedControl, run_request
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.server import Reply
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


async def llm_requests(store: Store, run_uid: str) -> int:
    value = await store.db.fetch_value(
        query="SELECT count(*) FROM llm_requests WHERE run_uid = %s",
        params=(run_uid,),
        action="count requests",
    )
    return int(value)


def looping(model: str, **limits: int) -> dict[str, object]:
    return {
        "prompt": "Look around.",
        "tools": ["list_k8s_pods"],
        "model": {"provider": "ollama", "name": model},
        "limits": limits,
    }


async def test_max_steps_ends_the_run_with_limit_exceeded_naming_the_limit(
    services: AgentServices, agent_namespace: str, scripted_model: ScriptedModelFactory
) -> None:
    ns = agent_namespace
    model = scripted_model(turns=[call("list_k8s_pods", namespace=ns)] * 3 + [say("Done.")])
    request = run_request(namespace=ns, task=looping(model, maxSteps=2))
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert outcome.reason == "LimitExceeded"
    assert (
        outcome.message == "maxSteps 2 reached: 2 steps; raise maxSteps in the Task's spec.limits"
    )
    assert reporter.condition["status"] == "False"
    assert reporter.status["steps"] == 2
    assert reporter.events[-1].reason == "Failed"
    assert reporter.events[-1].warning
    assert await llm_requests(services.store, request.uid) == 2


async def test_max_tokens_ends_the_run_before_the_request_that_would_pass_it(
    services: AgentServices, agent_namespace: str, scripted_model: ScriptedModelFactory
) -> None:
    ns = agent_namespace
    model = scripted_model(turns=[call("list_k8s_pods", namespace=ns), say("Done.")])
    request = run_request(namespace=ns, task=looping(model, maxTokens=1))
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert outcome.reason == "LimitExceeded"
    assert outcome.message.startswith("maxTokens 1 reached: ")
    assert outcome.message.endswith("raise maxTokens in the Task's spec.limits")
    assert await llm_requests(services.store, request.uid) == 1


async def test_a_missing_param_fails_before_any_llm_request_naming_it(
    services: AgentServices, agent_namespace: str
) -> None:
    task = {
        "prompt": "Check $(params.target).",
        "params": [{"name": "target"}],
        "tools": ["list_k8s_pods"],
    }
    request = run_request(namespace=agent_namespace, task=task)
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert outcome.reason == "InvalidParams"
    assert "param target has no value" in outcome.message
    assert reporter.reasons == ["InvalidParams"]
    assert reporter.event_reasons() == ["Failed"]
    assert await llm_requests(services.store, request.uid) == 0
    run = await services.store.runs.get(request.uid)
    assert run is not None
    assert (run.reason, run.succeeded) == ("InvalidParams", "False")


async def test_an_unconfigured_provider_fails_at_once_naming_the_setting(
    services: AgentServices, agent_namespace: str
) -> None:
    only_ollama = Providers(clients={"ollama": services.providers.get("ollama")}, default="ollama")
    services = dataclasses.replace(services, providers=only_ollama)
    task = {"prompt": "Check.", "tools": ["list_k8s_pods"], "model": {"provider": "gemini"}}
    request = run_request(namespace=agent_namespace, task=task)
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert outcome.reason == "ProviderError"
    assert outcome.message == "the gemini provider is not configured: set GEMINI_API_KEY"
    assert reporter.condition["message"] == outcome.message
    assert await llm_requests(services.store, request.uid) == 0


async def test_a_provider_refusing_the_request_ends_the_run_with_its_reason(
    services: AgentServices, agent_namespace: str, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail(fake_anthropic.error(400, "invalid_request_error", "prompt is too long"))
    task = {"prompt": "Check.", "tools": ["list_k8s_pods"], "model": {"provider": "anthropic"}}
    request = run_request(namespace=agent_namespace, task=task)

    outcome = await drive_run(
        request=request, services=services, reporter=RecordingReporter(), control=ScriptedControl()
    )

    assert outcome.reason == "ProviderError"
    assert outcome.message.startswith("anthropic model claude-sonnet-4-6 failed: ")
    assert "prompt is too long" in outcome.message
    events = await services.store.journal.events_after(request.uid)
    assert [e.type for e in events if e.type.startswith("llm.")] == ["llm.request", "llm.error"]


async def test_cancelling_abandons_the_llm_request_in_flight(
    services: AgentServices, agent_namespace: str, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail(Reply(status=500, body={"type": "error"}, delay=3.0))
    task = {"prompt": "Check.", "tools": ["list_k8s_pods"], "model": {"provider": "anthropic"}}
    request = run_request(namespace=agent_namespace, task=task)
    reporter, control = RecordingReporter(), ScriptedControl()
    run = asyncio.create_task(
        drive_run(request=request, services=services, reporter=reporter, control=control)
    )
    async with asyncio.timeout(30):
        while not fake_anthropic.sent:  # the request reached the provider  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    control.set_cancelled()
    outcome = await run

    assert outcome.reason == "Cancelled"
    assert reporter.event_reasons() == ["Started", "Cancelled"]
    assert reporter.condition["status"] == "False"
    error = await services.store.db.fetch_value(
        query="SELECT error FROM llm_responses WHERE run_uid = %s",
        params=(request.uid,),
        action="read the response",
    )
    assert error == (
        "abandoned: cancelled: spec.status was set to Cancelled by the test: no longer needed"
    )


@pytest.mark.slow
async def test_the_runs_timeout_ends_it_as_timed_out_naming_the_limit(
    services: AgentServices, agent_namespace: str, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail(Reply(status=500, body={"type": "error"}, delay=11.0))
    task = {
        "prompt": "Check.",
        "tools": ["list_k8s_pods"],
        "model": {"provider": "anthropic"},
        "limits": {"timeoutSeconds": 10},
    }
    request = run_request(namespace=agent_namespace, task=task)
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert outcome.reason == "TimedOut"
    assert outcome.message == (
        "the run took longer than limits.timeoutSeconds (10s) of the Task; raise it or narrow "
        "the prompt"
    )
    assert reporter.events[-1].reason == "TimedOut"
    assert reporter.events[-1].warning


async def test_a_daily_budget_counts_the_whole_namespace(
    services: AgentServices, agent_namespace: str, scripted_model: ScriptedModelFactory
) -> None:
    ns = agent_namespace
    policy = RunPolicy(budgets=Budgets(maxTokensPerDay=1))
    model = scripted_model(turns=[call("list_k8s_pods", namespace=ns), say("Done.")])
    first = run_request(namespace=ns, task=looping(model), policy=policy)
    second = run_request(namespace=ns, task=looping(model), policy=policy)

    ended = await drive_run(
        request=first, services=services, reporter=RecordingReporter(), control=ScriptedControl()
    )
    blocked = await drive_run(
        request=second, services=services, reporter=RecordingReporter(), control=ScriptedControl()
    )

    assert ended.reason == "LimitExceeded"
    assert await llm_requests(services.store, first.uid) == 1
    assert blocked.reason == "LimitExceeded"
    assert blocked.message.startswith("maxTokensPerDay 1 reached: ")
    assert blocked.message.endswith(
        "tokens used today; raise maxTokensPerDay in the ToolPolicy's budgets"
    )
    assert await llm_requests(services.store, second.uid) == 0
