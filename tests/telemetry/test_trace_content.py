"""With ``MC_TRACE_CONTENT=true`` the spans of a real run (the loop in-process, the real Ollama
with a scripted model, the control plane, PostgreSQL) carry the prompt, the answer and the
tool's arguments and output; the run span's tokens are the sum of its chat spans'."""

from __future__ import annotations

import dataclasses
import json

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mission_control.agent import AgentServices, drive_run
from mission_control.telemetry import RunTracing
from tests.agent.conftest import agent_namespace, services
from tests.agent.harness import RecordingReporter, ScriptedControl, run_request
from tests.controlplane.launcher import Cluster
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]
__all__ = ["agent_namespace", "services"]

PROMPT = "Which pods run in the namespace?"
ANSWER = "Only web-0, and it is Pending."


async def test_prompts_answers_and_tool_output_go_into_spans_when_asked(
    services: AgentServices,
    controlplane: Cluster,
    agent_namespace: str,
    scripted_model: ScriptedModelFactory,
) -> None:
    ns = agent_namespace
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0"},
           "spec": {"containers": [{"name": "app", "image": "registry.lan/web:1"}]}}  # fmt: skip
    controlplane.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(pod))
    model = scripted_model(turns=[call("list_k8s_pods", namespace=ns), say(ANSWER)])
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = RunTracing(tracer=provider.get_tracer("test"), provider=provider, content=True)
    traced = dataclasses.replace(services, tracing=tracing)
    task = {
        "prompt": PROMPT,
        "tools": ["list_k8s_pods"],
        "model": {"provider": "ollama", "name": model},
    }
    request = run_request(namespace=ns, task=task)
    reporter = RecordingReporter()
    outcome = await drive_run(
        request=request, services=traced, reporter=reporter, control=ScriptedControl()
    )
    assert outcome.reason == "Succeeded"
    tracing.shutdown()

    spans = {span.name: span for span in exporter.get_finished_spans()}
    run = next(span for name, span in spans.items() if name.startswith("invoke_agent"))
    assert reporter.status["traceID"] == format(run.context.trace_id, "032x")
    chats = [span for span in exporter.get_finished_spans() if span.name == f"chat {model}"]
    assert len(chats) == 2
    assert PROMPT in str(chats[0].attributes["gen_ai.input.messages"])
    assert ANSWER in str(chats[1].attributes["gen_ai.output.messages"])
    tool = spans["execute_tool list_k8s_pods"]
    assert json.loads(str(tool.attributes["gen_ai.tool.call.arguments"])) == {"namespace": ns}
    assert "web-0" in str(tool.attributes["gen_ai.tool.call.result"])
    assert tool.parent is not None
    assert tool.parent.span_id == run.context.span_id
    run_attributes = run.attributes or {}
    for kind in ("input", "output"):
        key = f"gen_ai.usage.{kind}_tokens"
        assert run_attributes[key] == sum(int(c.attributes[key]) for c in chats)  # type: ignore[arg-type,index]
