"""Traces of a real run, sent over OTLP/HTTP to an in-process receiver and decoded with the
official protobuf messages: one ``invoke_agent`` span with a ``chat`` span per LLM request,
an ``execute_tool`` span per tool call and an ``await_approval`` span inside the held one;
GenAI attribute names; token totals that add up; the trace id in ``status.traceID``; no
prompt or tool output in any span."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.harness import Scene, look_then_hold_a_delete
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import wait_until
from tests.telemetry.otlp import OTLPReceiver, ReceivedSpan

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama, pytest.mark.slow]

PROMPT = "Look at the pods, then remove the broken one."
ANSWER = "Left web-0 alone as asked."


@pytest.fixture(scope="module")
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as started:
        yield started


@pytest.fixture(scope="module")
def operator_extra_env(receiver: OTLPReceiver) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "mc-under-test"}


def test_a_run_is_one_trace_with_genai_spans(
    scene: Scene, receiver: OTLPReceiver, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    model = look_then_hold_a_delete(
        scene, scripted_model, name="tidy", prompt=PROMPT, answer=ANSWER
    )
    pending = scene.reject_pending("tidy-1")
    scene.wait("tidy-1")
    status = scene.get("taskrun", "tidy-1")["status"]
    trace_id = status["traceID"]

    def of_run() -> list[ReceivedSpan]:
        return [span for span in receiver.spans() if span.trace_id == trace_id]

    # Spans are exported in batches a few seconds apart; the run span ends last.
    wait_until(
        lambda: any(s.name.startswith("invoke_agent") for s in of_run()),
        timeout=60,
        what="the run's spans at the receiver",
    )
    spans = of_run()
    (root,) = [s for s in spans if s.name == f"invoke_agent {ns}/tidy"]
    assert root.parent_span_id == ""
    assert root.resource["service.name"] == "mc-under-test"
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.agent.id"] == scene.get("taskrun", "tidy-1")["metadata"]["uid"]
    assert root.attributes["mission_control.run.reason"] == "Succeeded"

    chats = [s for s in spans if s.name == f"chat {model}"]
    assert len(chats) == 3
    for chat in chats:
        assert chat.parent_span_id == root.span_id
        assert chat.kind == 3  # SPAN_KIND_CLIENT
        attributes = chat.attributes
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.provider.name"] == "ollama"
        assert attributes["gen_ai.request.model"] == model
        assert attributes["gen_ai.response.model"] == model
        assert attributes["gen_ai.usage.input_tokens"] > 0
        assert attributes["gen_ai.usage.output_tokens"] > 0
    assert [c.attributes["gen_ai.response.finish_reasons"] for c in chats].count(["stop"]) >= 1
    total_in = sum(c.attributes["gen_ai.usage.input_tokens"] for c in chats)
    total_out = sum(c.attributes["gen_ai.usage.output_tokens"] for c in chats)
    assert root.attributes["gen_ai.usage.input_tokens"] == total_in
    assert root.attributes["gen_ai.usage.output_tokens"] == total_out
    assert total_in == status["usage"]["promptTokens"]

    tool_spans = {
        s.attributes["gen_ai.tool.name"]: s for s in spans if s.name.startswith("execute_tool")
    }
    assert set(tool_spans) == {"list_k8s_pods", "delete_k8s_pod"}
    listed, deleted = tool_spans["list_k8s_pods"], tool_spans["delete_k8s_pod"]
    for span in (listed, deleted):
        assert span.parent_span_id == root.span_id
        assert span.attributes["gen_ai.operation.name"] == "execute_tool"
        assert span.attributes["gen_ai.tool.call.id"].startswith("s")
    assert listed.attributes["mission_control.tool.risk"] == "READ_ONLY"
    assert listed.attributes["mission_control.tool.decision"] == "Allow"
    assert listed.attributes["mission_control.tool.outcome"] == "completed"
    assert deleted.attributes["gen_ai.tool.call.id"] == pending["toolCallId"]
    assert deleted.attributes["mission_control.tool.risk"] == "DESTRUCTIVE"
    assert deleted.attributes["mission_control.tool.decision"] == "RequireApproval"
    assert deleted.attributes["mission_control.tool.outcome"] == "rejected"
    (wait,) = [s for s in spans if s.name == "await_approval delete_k8s_pod"]
    assert wait.parent_span_id == deleted.span_id

    for span in spans:  # content stays out unless MC_TRACE_CONTENT=true
        texts = json.dumps(span.attributes)
        assert PROMPT not in texts
        assert ANSWER not in texts
        assert "gen_ai.input.messages" not in span.attributes
        assert "gen_ai.tool.call.result" not in span.attributes
