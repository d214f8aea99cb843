"""OpenTelemetry traces of runs, after the GenAI semantic conventions.

One ``invoke_agent`` span per run (its token totals are the sum of its ``chat`` spans), a
``chat`` span per LLM request, an ``execute_tool`` span per tool call and an
``await_approval`` span for each wait for people. Spans go over OTLP/HTTP (protobuf) to the
``OTEL_*`` endpoint; with none configured the tracer is OpenTelemetry's no-op one and nothing
is recorded or sent. Prompts, answers and tool output stay out of spans unless
``MC_TRACE_CONTENT=true``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from mission_control.errors import ConfigError
from mission_control.settings import TracingSettings

__all__ = ["RunTracing"]

_SCOPE = "mission_control"
#: Longest content attribute, characters (content is only recorded when asked for).
_CONTENT_LIMIT = 16 * 1024


def _pairs(text: str | None, *, variable: str) -> dict[str, str]:
    """``key=value,key2=value2`` as the OTEL_* variables write them."""
    pairs: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{variable}: expected key=value pairs separated by commas")
        pairs[key.strip()] = value.strip()
    return pairs


class RunTracing:
    """Starts the spans of runs; a disabled one records nothing (OpenTelemetry's no-op)."""

    def __init__(
        self,
        *,
        tracer: trace.Tracer | None = None,
        provider: TracerProvider | None = None,
        content: bool = False,
    ) -> None:
        self._tracer = tracer or trace.NoOpTracer()
        self._provider = provider
        self.content = content

    @classmethod
    def from_settings(cls, settings: TracingSettings, *, content: bool = False) -> RunTracing:
        """Traces to the configured OTLP endpoint, or a disabled tracing when there is none."""
        url = settings.traces_url
        if url is None:
            return cls(content=content)
        # Imported only when traces are on: the exporter pulls in protobuf and an HTTP client.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        headers = _pairs(
            settings.exporter_otlp_headers.get_secret_value()
            if settings.exporter_otlp_headers
            else None,
            variable="OTEL_EXPORTER_OTLP_HEADERS",
        )
        attributes: dict[str, Any] = _pairs(
            settings.resource_attributes, variable="OTEL_RESOURCE_ATTRIBUTES"
        )
        attributes["service.name"] = settings.service_name
        provider = TracerProvider(resource=Resource.create(attributes))
        exporter = OTLPSpanExporter(
            endpoint=url, headers=headers, timeout=settings.exporter_otlp_timeout / 1000
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
        return cls(tracer=provider.get_tracer(_SCOPE), provider=provider, content=content)

    @property
    def enabled(self) -> bool:
        return self._provider is not None

    def shutdown(self) -> None:
        """Send what is buffered and stop exporting."""
        if self._provider is not None:
            self._provider.shutdown()

    # -- spans ----------------------------------------------------------------------------

    @contextmanager
    def run(self, *, agent: str, run_uid: str, namespace: str, name: str) -> Iterator[Span]:
        """The ``invoke_agent`` span of one run (current while the run goes on)."""
        with self._tracer.start_as_current_span(
            f"invoke_agent {agent}",
            kind=SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": agent,
                "gen_ai.agent.id": run_uid,
                "gen_ai.conversation.id": run_uid,
                "k8s.namespace.name": namespace,
                "mission_control.taskrun.name": name,
            },
        ) as span:
            yield span

    @staticmethod
    def trace_id() -> str | None:
        """The current trace's id in hex (what Tempo and Jaeger search by), None when off."""
        context = trace.get_current_span().get_span_context()
        return trace.format_trace_id(context.trace_id) if context.is_valid else None

    @staticmethod
    def run_ended(
        span: Span,
        *,
        reason: str,
        provider: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
    ) -> None:
        if not span.is_recording():
            return
        span.set_attributes(
            {
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": input_tokens,
                "gen_ai.usage.output_tokens": output_tokens,
                "mission_control.run.reason": reason,
            }
        )
        if reason != "Succeeded":
            span.set_status(Status(StatusCode.ERROR, reason))

    @contextmanager
    def chat(
        self, *, provider: str, model: str, messages: Sequence[Mapping[str, Any]] | None = None
    ) -> Iterator[Span]:
        """One LLM request (``chat``): ``messages`` are recorded only with content on."""
        with self._tracer.start_as_current_span(
            f"chat {model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": model,
            },
            record_exception=False,
        ) as span:
            if self.content and messages is not None and span.is_recording():
                span.set_attribute("gen_ai.input.messages", _text(messages))
            yield span

    def chat_answered(
        self,
        span: Span,
        *,
        model: str,
        finish_reason: str,
        input_tokens: int,
        output_tokens: int,
        output: Mapping[str, Any] | None = None,
    ) -> None:
        if not span.is_recording():
            return
        span.set_attributes(
            {
                "gen_ai.response.model": model,
                "gen_ai.response.finish_reasons": [finish_reason],
                "gen_ai.usage.input_tokens": input_tokens,
                "gen_ai.usage.output_tokens": output_tokens,
            }
        )
        if self.content and output is not None:
            span.set_attribute("gen_ai.output.messages", _text([output]))

    @staticmethod
    def failed(span: Span, *, error_type: str, message: str) -> None:
        if span.is_recording():
            span.set_attribute("error.type", error_type)
            span.set_status(Status(StatusCode.ERROR, message[:256]))

    @contextmanager
    def tool(
        self, *, name: str, call_id: str, arguments: Mapping[str, Any] | None = None
    ) -> Iterator[Span]:
        """One tool call (``execute_tool``), from its validation to the answer to the model."""
        with self._tracer.start_as_current_span(
            f"execute_tool {name}",
            kind=SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.tool.call.id": call_id,
                "gen_ai.tool.type": "function",
            },
        ) as span:
            if self.content and arguments is not None and span.is_recording():
                span.set_attribute("gen_ai.tool.call.arguments", _text(arguments))
            yield span

    def tool_answered(
        self, *, risk: str, decision: str, outcome: str, error: bool, result: str
    ) -> None:
        """On the current ``execute_tool`` span: how the call was judged and how it went."""
        span = trace.get_current_span()
        if not span.is_recording():
            return
        span.set_attributes(
            {
                "mission_control.tool.risk": risk,
                "mission_control.tool.decision": decision,
                "mission_control.tool.outcome": outcome,
            }
        )
        if error:
            span.set_attribute("error.type", outcome)
            span.set_status(Status(StatusCode.ERROR, outcome))
        if self.content:
            span.set_attribute("gen_ai.tool.call.result", result[:_CONTENT_LIMIT])

    @contextmanager
    def approval(self, *, tool: str, call_id: str) -> Iterator[Span]:
        """The wait for people's decision on a held call."""
        with self._tracer.start_as_current_span(
            f"await_approval {tool}",
            kind=SpanKind.INTERNAL,
            attributes={"gen_ai.tool.name": tool, "gen_ai.tool.call.id": call_id},
        ) as span:
            yield span


def _text(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)[:_CONTENT_LIMIT]
