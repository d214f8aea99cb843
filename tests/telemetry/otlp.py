"""An in-process OTLP/HTTP trace receiver: decodes each export with the official protobuf
messages (``opentelemetry-proto``) and keeps the spans for the test to read."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Self

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.fakes.server import FakeServer, RecordedRequest, Reply

__all__ = ["OTLPReceiver", "ReceivedSpan"]


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    status_code: int


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, which) if which else None


class OTLPReceiver:
    """``POST /v1/traces`` with ``application/x-protobuf`` bodies, as collectors accept them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self.server = FakeServer()
        self.server.route("POST", "/v1/traces", self._export)

    @property
    def url(self) -> str:
        return self.server.url

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def _export(self, request: RecordedRequest, match: Any) -> Reply:
        if request.headers.get("content-type") != "application/x-protobuf":
            return Reply(415, b"")
        export = ExportTraceServiceRequest()
        export.ParseFromString(request.body)
        received = []
        for resource_spans in export.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=span.kind,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            resource=resource,
                            status_code=span.status.code,
                        )
                    )
        with self._lock:
            self._spans.extend(received)
        body = ExportTraceServiceResponse().SerializeToString()
        return Reply(200, body, headers={"Content-Type": "application/x-protobuf"})

    def __enter__(self) -> Self:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
