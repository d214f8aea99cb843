"""A run that failed over to a fallback, stopped while held and resumed (as after a restart).

Where the chain stands (the active link, the cooldown) is kept in memory only; the
conversation, usage and calls come back from the journal. Providers are the wire doubles.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mission_control.agent import AgentLimits, AgentServices, RunRequest, drive_run
from mission_control.runs.approvals import ApprovalEntry
from tests.agent.harness import (
    BuildServices,
    RecordingReporter,
    ScriptedControl,
    journal,
    run_request,
    stop_while_held,
    usage_rows,
)
from tests.controlplane.launcher import Cluster
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.tools.kubernetes.helpers import create, pod

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres]


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
