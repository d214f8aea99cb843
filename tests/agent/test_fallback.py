"""Runs that keep working when a model does not: the fallback chain and the context window.

Over the run loop with the real store and control plane; the providers are the wire doubles
(a switched-off Ollama, a 429 storm on Gemini) so outages can be staged exactly.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mission_control.agent import AgentLimits, AgentServices, RunRequest, drive_run
from mission_control.connectors import Connectors
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.llm import Providers, build_catalog, build_providers, load_price_table
from mission_control.llm.retry import RetryPolicy
from mission_control.llm.window import SHORTENED_MARKER
from mission_control.runs.approvals import ApprovalEntry
from mission_control.settings import load_settings
from mission_control.store import Store
from mission_control.telemetry import OperatorMetrics
from mission_control.tools import ToolContext, default_registry
from tests.agent.harness import RecordingReporter, ScriptedControl, run_request, stop_while_held
from tests.controlplane.launcher import Cluster
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import RecordedRequest
from tests.tools.kubernetes.helpers import create, pod

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres]

BuildServices = Callable[..., AgentServices]


@pytest.fixture
async def doubles_services(
    controlplane: Cluster,
    store: Store,
    fake_llm_environ: dict[str, str],
    tmp_path: Path,
) -> AsyncIterator[BuildServices]:
    """AgentServices whose three providers are the wire doubles, retrying quickly."""
    opened: list[Providers] = []
    connector = KubernetesConnector.from_kubeconfig(controlplane.kubeconfig)
    base = AgentServices(
        providers=build_providers(load_settings({})),
        registry=default_registry(),
        tools=ToolContext(connectors=Connectors(kubernetes=connector)),
        store=store,
        prices=load_price_table(None),
    )

    def build(*, models_file: str = "", **changes: Any) -> AgentServices:
        environ = dict(fake_llm_environ, OLLAMA_STALL_SECONDS="0")
        if models_file:
            path = tmp_path / "models.yaml"
            path.write_text(models_file)
            environ["MC_MODELS_FILE"] = str(path)
        settings = load_settings(environ)
        providers = build_providers(settings, retry=RetryPolicy(max_attempts=2, base_delay=0.05))
        opened.append(providers)
        return dataclasses.replace(
            base,
            providers=providers,
            catalog=build_catalog(settings, providers),
            **changes,
        )

    yield build
    for providers in opened:
        await providers.aclose()
    await connector.aclose()


def pods_task(namespace: str, model: dict[str, Any]) -> dict[str, Any]:
    return {
        "prompt": f"What runs in namespace {namespace}?",
        "tools": ["list_k8s_pods"],
        "model": model,
    }


@dataclasses.dataclass(frozen=True, kw_only=True)
class UsageRow:
    provider: str
    model: str
    cost_usd: Decimal


async def usage_rows(store: Store, run_uid: str) -> list[tuple[str, str, Decimal]]:
    rows = await store.db.fetch_all(
        row=UsageRow,
        query="SELECT provider, model, cost_usd FROM token_usage WHERE run_uid = %s ORDER BY id",
        params=(run_uid,),
        action="read usage",
    )
    return [(row.provider, row.model, row.cost_usd) for row in rows]


async def journal(store: Store, run_uid: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e.type, dict(e.payload)) for e in await store.journal.events_after(run_uid)]


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


async def fail_over_and_stop_while_held(
    *,
    services: AgentServices,
    controlplane: Cluster,
    namespace: str,
    gemini: FakeGemini,
    anthropic: FakeAnthropic,
    primary: str,
) -> tuple[RunRequest, dict[str, Any]]:
    """Gemini rate limited, Anthropic asks for a held delete, the run stopped while it waits.

    Returns the request and ``status.pendingApproval``.
    """
    create(controlplane, namespace, pod("web-0"))
    gemini.rate_limit_storm("30s")  # longer than Gemini's share of the 20 s
    anthropic.call(("delete_k8s_pod", {"namespace": namespace, "name": "web-0"}))
    model = {
        "provider": "gemini",
        "name": primary,
        "fallbacks": [{"provider": "anthropic", "name": "claude-sonnet-4-6"}],
    }
    task = {"prompt": "Delete the stuck pod.", "tools": ["delete_k8s_pod"], "model": model}
    request = run_request(namespace=namespace, task=task)
    pending = await stop_while_held(services, request)
    assert pending["toolCallId"] == "s1-0-toolu_fake0001"
    return request, pending


@pytest.mark.parametrize("primary_is_back", [False, True], ids=["still-out", "back"])
async def test_a_run_that_failed_over_and_was_stopped_while_held_resumes_from_the_primary(
    doubles_services: BuildServices,
    controlplane: Cluster,
    agent_namespace: str,
    fake_gemini: FakeGemini,
    fake_anthropic: FakeAnthropic,
    primary_is_back: bool,
) -> None:
    """Which link is active is kept in memory only, so a restart forgets the failover.

    Gemini is rate limited, Anthropic answers step 1 with a held delete, and the run is stopped
    while it waits for approval. The resumed run starts again from the primary: still rate
    limited, it fails over to Anthropic again; back, it answers itself. Either way the model
    that serves step 2 takes the conversation Anthropic wrote (its ``toolu_`` call id, linked to
    the result), the approved delete runs once, no call is repeated, and each model's requests
    are counted once in ``usage.byModel`` and in the usage rows.
    """
    limits = AgentLimits(request_timeout_seconds=20)
    namespace = agent_namespace
    request, pending = await fail_over_and_stop_while_held(
        services=doubles_services(limits=limits), controlplane=controlplane, namespace=namespace,
        gemini=fake_gemini,
        anthropic=fake_anthropic, primary="gemini-2.0-flash",
    )  # fmt: skip
    issued = "toolu_fake0001"  # Anthropic's id for the delete; the run's own id adds the step

    if primary_is_back:
        fake_gemini.rate_limit_storm(None)
        fake_gemini.say("Deleted web-0.")
    else:
        fake_anthropic.say("Deleted web-0.")
    control = ScriptedControl()
    control.add(ApprovalEntry(tool_call_id=pending["toolCallId"], decision="Approve", by="bob"))
    reporter = RecordingReporter()
    # New providers, as after a restart: what the first ones learnt of Gemini's quota is gone.
    services = doubles_services(limits=limits)
    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=control
    )

    assert (outcome.reason, outcome.summary) == ("Succeeded", "Deleted web-0."), outcome.message
    assert controlplane.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout == ""
    [record] = await services.store.tool_calls.for_run(request.uid)
    assert (record.tool_call_id, record.status) == (pending["toolCallId"], "completed")
    events = await journal(services.store, request.uid)
    assert [t for t, _ in events].count("tool.result") == 1
    asked = [(p["step"], p["provider"]) for t, p in events if t == "llm.request"]
    second = [(2, "gemini")] if primary_is_back else [(2, "gemini"), (2, "anthropic")]
    assert asked == [(1, "gemini"), (1, "anthropic"), *second]
    assert len(fake_gemini.generations) == 2  # the primary was asked again after the restart
    switches = [(p["from"], p["to"]) for t, p in events if t == "llm.fallback"]
    switch = ("gemini/gemini-2.0-flash", "anthropic/claude-sonnet-4-6")
    assert switches == [switch] * len(second)

    # The model that served step 2 saw the delete under Anthropic's id, linked to its result.
    if primary_is_back:
        _, sent = fake_gemini.generations  # a 429 at step 1, then step 2 answered
        parts = [p for c in sent["contents"] for p in c["parts"]]
        [use] = [p["functionCall"] for p in parts if "functionCall" in p]
        [result] = [p["functionResponse"] for p in parts if "functionResponse" in p]
        assert (use["id"], result["id"]) == (issued, issued)
    else:
        first, sent = fake_anthropic.sent
        blocks = [b for m in sent["messages"] for b in m["content"] if isinstance(b, dict)]
        [use] = [b for b in blocks if b["type"] == "tool_use"]
        [result] = [b for b in blocks if b["type"] == "tool_result"]
        assert (use["id"], result["tool_use_id"]) == (issued, issued)
        assert len(first["messages"]) == 1  # asked for the delete once, never again

    anthropic_cost = (20 * Decimal(3) + 5 * Decimal(15)) / 1_000_000
    gemini_cost = (20 * Decimal("0.10") + 5 * Decimal("0.40")) / 1_000_000
    anthropic = ("anthropic", "claude-sonnet-4-6", anthropic_cost)
    gemini = ("gemini", "gemini-2.0-flash", gemini_cost)
    assert await usage_rows(services.store, request.uid) == [
        anthropic,
        gemini if primary_is_back else anthropic,
    ]
    by_model = [
        (m["provider"], m["model"], m["requests"], m["promptTokens"], m["completionTokens"],
         m["costUSD"])
        for m in reporter.status["usage"]["byModel"]
    ]  # fmt: skip
    if primary_is_back:
        assert by_model == [
            ("anthropic", "claude-sonnet-4-6", 1, 20, 5, format(anthropic_cost, "f")),
            ("gemini", "gemini-2.0-flash", 1, 20, 5, format(gemini_cost, "f")),
        ]
    else:
        assert by_model == [
            ("anthropic", "claude-sonnet-4-6", 2, 40, 10, format(2 * anthropic_cost, "f"))
        ]
    total = sum((cost for _, _, cost in await usage_rows(services.store, request.uid)), Decimal(0))
    assert reporter.status["usage"]["costUSD"] == format(total, "f")
    assert reporter.status["steps"] == 2


async def test_a_resumed_run_skips_a_primary_that_cannot_continue_the_fallbacks_calls(
    doubles_services: BuildServices,
    controlplane: Cluster,
    agent_namespace: str,
    fake_gemini: FakeGemini,
    fake_anthropic: FakeAnthropic,
) -> None:
    """A Gemini 3 primary refuses the turn's calls Anthropic made (no thought signature).

    After the restart the resumed run does not send it the conversation (a rejected request
    would end the run): it starts on Anthropic, which made the calls, and completes there.
    """
    limits = AgentLimits(request_timeout_seconds=20)
    fake_gemini.models.add("gemini-3-flash-preview")
    fake_gemini.require_signatures = True
    request, pending = await fail_over_and_stop_while_held(
        services=doubles_services(limits=limits), controlplane=controlplane,
        namespace=agent_namespace, gemini=fake_gemini,
        anthropic=fake_anthropic, primary="gemini-3-flash-preview",
    )  # fmt: skip
    fake_gemini.rate_limit_storm(None)
    fake_anthropic.say("Deleted web-0.")
    control = ScriptedControl()
    control.add(ApprovalEntry(tool_call_id=pending["toolCallId"], decision="Approve", by="bob"))
    services = doubles_services(limits=limits)

    outcome = await drive_run(
        request=request, services=services, reporter=RecordingReporter(), control=control
    )

    assert (outcome.reason, outcome.summary) == ("Succeeded", "Deleted web-0."), outcome.message
    events = await journal(services.store, request.uid)
    asked = [(p["step"], p["provider"]) for t, p in events if t == "llm.request"]
    assert asked == [(1, "gemini"), (1, "anthropic"), (2, "anthropic")]
    assert len(fake_gemini.generations) == 1  # only the 429 of step 1
