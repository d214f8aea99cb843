"""Runs that keep working when a model does not: the fallback chain and the context window.

Over the run loop with the real store and control plane; the providers are the wire doubles
(a switched-off Ollama, a 429 storm on Gemini) so outages can be staged exactly.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from mission_control.agent import AgentLimits, drive_run
from mission_control.llm.window import SHORTENED_MARKER
from mission_control.telemetry import OperatorMetrics
from tests.agent.harness import (
    BuildServices,
    RecordingReporter,
    ScriptedControl,
    journal,
    run_request,
    usage_rows,
)
from tests.controlplane.launcher import Cluster
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import RecordedRequest

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres]


def pods_task(namespace: str, model: dict[str, Any]) -> dict[str, Any]:
    return {
        "prompt": f"What runs in namespace {namespace}?",
        "tools": ["list_k8s_pods"],
        "model": model,
    }


async def test_a_run_whose_ollama_is_off_completes_on_gemini_and_goes_back_after_the_cooldown(
    doubles_services: BuildServices,
    agent_namespace: str,
    fake_ollama: FakeOllama,
    fake_gemini: FakeGemini,
) -> None:
    services = doubles_services(fallback_cooldown_seconds=0, metrics=OperatorMetrics())
    fake_ollama.go_down()
    fake_gemini.call(("list_k8s_pods", {"namespace": agent_namespace}))

    def ollama_is_back(request: RecordedRequest) -> None:
        fake_gemini.after_request = None
        fake_ollama.come_back()  # while Gemini answers step 1

    fake_gemini.after_request = ollama_is_back
    fake_ollama.say("Nothing runs there.", prompt_tokens=50, completion_tokens=7)
    model = {
        "provider": "ollama",
        "name": "llama3.1",
        "fallbacks": [{"provider": "gemini", "name": "gemini-2.0-flash"}],
    }
    request = run_request(namespace=agent_namespace, task=pods_task(agent_namespace, model))
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert outcome.reason == "Succeeded"
    assert outcome.summary == "Nothing runs there."
    gemini_cost = (20 * Decimal("0.10") + 5 * Decimal("0.40")) / 1_000_000
    assert await usage_rows(services.store, request.uid) == [
        ("gemini", "gemini-2.0-flash", gemini_cost),
        ("ollama", "llama3.1", Decimal(0)),
    ]
    events = await journal(services.store, request.uid)
    asked = [(p["step"], p["provider"], p["model"]) for t, p in events if t == "llm.request"]
    assert asked == [(1, "ollama", "llama3.1"), (1, "gemini", "gemini-2.0-flash"),
                     (2, "ollama", "llama3.1")]  # fmt: skip
    [switch] = [p for t, p in events if t == "llm.fallback"]
    assert (switch["from"], switch["to"], switch["reason"]) == (
        "ollama/llama3.1",
        "gemini/gemini-2.0-flash",
        "Unavailable",
    )
    answered = [(p["provider"], p["model"], p["costUSD"]) for t, p in events if t == "llm.response"]
    assert answered == [
        ("gemini", "gemini-2.0-flash", format(gemini_cost, "f")),
        ("ollama", "llama3.1", "0"),
    ]
    assert [t for t, _ in events].count("llm.primary_again") == 1
    [event] = [e for e in reporter.events if e.reason == "ModelFallback"]
    assert event.warning
    assert event.message.startswith(
        "step 1: ollama/llama3.1 failed (Unavailable: ollama: cannot connect to"
    )
    assert event.message.endswith("switched to gemini/gemini-2.0-flash")
    status = reporter.status
    assert status["resolved"]["chain"] == [
        {"provider": "ollama", "model": "llama3.1"},
        {"provider": "gemini", "model": "gemini-2.0-flash"},
    ]
    assert status["usage"]["byModel"] == [
        {"provider": "gemini", "model": "gemini-2.0-flash", "requests": 1,
         "promptTokens": 20, "completionTokens": 5, "costUSD": format(gemini_cost, "f")},
        {"provider": "ollama", "model": "llama3.1", "requests": 1,
         "promptTokens": 50, "completionTokens": 7, "costUSD": "0"},
    ]  # fmt: skip
    assert status["usage"]["costUSD"] == format(gemini_cost, "f")
    get = services.metrics.registry.get_sample_value
    assert (
        get(
            "mission_control_llm_fallbacks_total",
            {"from_provider": "ollama", "to_provider": "gemini", "reason": "Unavailable"},
        )
        == 1
    )
    assert get(
        "mission_control_llm_cost_usd_total", {"provider": "gemini", "model": "gemini-2.0-flash"}
    ) == float(gemini_cost)


async def test_a_429_storm_mid_conversation_continues_on_anthropic_with_linked_tool_calls(
    doubles_services: BuildServices,
    agent_namespace: str,
    fake_gemini: FakeGemini,
    fake_anthropic: FakeAnthropic,
) -> None:
    services = doubles_services(limits=AgentLimits(request_timeout_seconds=20))
    fake_gemini.call(("list_k8s_pods", {"namespace": agent_namespace}))

    def storm_after_the_first_answer(request: RecordedRequest) -> None:
        fake_gemini.after_request = None
        fake_gemini.rate_limit_storm("30s")  # longer than Gemini's share of the 20 s

    fake_gemini.after_request = storm_after_the_first_answer
    fake_anthropic.say("Nothing runs there.")
    model = {
        "provider": "gemini",
        "name": "gemini-2.0-flash",
        "fallbacks": [{"provider": "anthropic", "name": "claude-sonnet-4-6"}],
    }
    request = run_request(namespace=agent_namespace, task=pods_task(agent_namespace, model))
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert outcome.reason == "Succeeded", outcome.message
    assert len(fake_gemini.generations) == 2  # the answer, then one 429: no retry past its share
    [sent] = fake_anthropic.sent  # the double refuses a tool_result that answers no tool_use
    [use] = [b for m in sent["messages"] if m["role"] == "assistant" for b in m["content"]]
    [result] = [b for m in sent["messages"][2:] if m["role"] == "user" for b in m["content"]]
    assert (use["type"], use["id"]) == ("tool_use", "fc-1")
    assert (result["type"], result["tool_use_id"]) == ("tool_result", "fc-1")
    [event] = [e for e in reporter.events if e.reason == "ModelFallback"]
    assert "(RateLimited:" in event.message
    rows = await usage_rows(services.store, request.uid)
    assert [(p, m) for p, m, _ in rows] == [
        ("gemini", "gemini-2.0-flash"),
        ("anthropic", "claude-sonnet-4-6"),
    ]
    assert rows[1][2] == (20 * Decimal(3) + 5 * Decimal(15)) / 1_000_000


async def test_a_bad_request_ends_the_run_without_failing_over(
    doubles_services: BuildServices,
    agent_namespace: str,
    fake_gemini: FakeGemini,
    fake_anthropic: FakeAnthropic,
) -> None:
    services = doubles_services()
    fake_gemini.fail(fake_gemini.invalid_argument("* GenerateContentRequest.tools: invalid"))
    model = {
        "provider": "gemini",
        "name": "gemini-2.0-flash",
        "fallbacks": [{"provider": "anthropic"}],
    }
    request = run_request(namespace=agent_namespace, task=pods_task(agent_namespace, model))
    reporter = RecordingReporter()

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert outcome.reason == "ProviderError"
    assert outcome.message.startswith("gemini model gemini-2.0-flash failed: ")
    assert fake_anthropic.sent == []
    assert "ModelFallback" not in reporter.event_reasons()


async def test_a_conversation_that_outgrows_a_small_window_is_shortened_and_the_model_told(
    doubles_services: BuildServices,
    controlplane: Cluster,
    agent_namespace: str,
    fake_gemini: FakeGemini,
) -> None:
    pods = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"worker-{n:02d}"},
         "spec": {"containers": [{"name": "app", "image": f"registry.lan/worker:{n}"}]}}
        for n in range(40)
    ]}  # fmt: skip
    controlplane.kubectl("create", "-n", agent_namespace, "-f", "-", input=json.dumps(pods))
    # A window that the prompt nearly fills: the pod list (about 2,000 characters) cannot fit.
    services = doubles_services(models_file="gemini:\n  gemini-2.0-flash: {contextWindow: 1500}\n")
    fake_gemini.call(("list_k8s_pods", {"namespace": agent_namespace}))
    fake_gemini.say("Forty workers.")
    model = {"provider": "gemini", "name": "gemini-2.0-flash"}
    request = run_request(namespace=agent_namespace, task=pods_task(agent_namespace, model))

    outcome = await drive_run(
        request=request,
        services=services,
        reporter=RecordingReporter(),
        control=ScriptedControl(),
    )

    assert outcome.reason == "Succeeded", outcome.message
    first, second = fake_gemini.generations
    assert "shortened to fit" not in json.dumps(first)
    [part] = [p for c in second["contents"] for p in c["parts"] if "functionResponse" in p]
    told = part["functionResponse"]["response"]["output"]
    assert SHORTENED_MARKER.split("{")[0] in told
    assert "worker-00" in told  # the head of the output is kept
    events = await journal(services.store, request.uid)
    shortened = [p for t, p in events if t == "llm.request" and p["step"] == 2]
    assert shortened[0]["shortenedToolOutputs"] == 1
    assert shortened[0]["contextWindow"] == 1500
