"""Traces are configured by the standard OTEL_* variables only, and off when none is set."""

from __future__ import annotations

import pytest

from mission_control.errors import ConfigError
from mission_control.settings import load_settings
from mission_control.telemetry import RunTracing


def test_without_an_endpoint_nothing_is_traced() -> None:
    tracing = RunTracing.from_settings(load_settings({}).tracing)
    assert not tracing.enabled
    with tracing.run(agent="a", run_uid="u", namespace="n", name="r") as span:
        assert not span.is_recording()
        assert tracing.trace_id() is None


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"},
            "http://collector:4318/v1/traces",
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318/v1/traces",
            },
            "http://tempo:4318/v1/traces",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, None),
    ],
)
def test_the_traces_url_follows_the_standard_variables(
    environ: dict[str, str], url: str | None
) -> None:
    assert load_settings(environ).tracing.traces_url == url


def test_an_endpoint_turns_traces_on_and_a_trace_id_is_current_in_a_run() -> None:
    # Nothing listens on port 9: the export at shutdown gives up after 100 ms.
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "100",
    }
    settings = load_settings(environ).tracing
    tracing = RunTracing.from_settings(settings)
    try:
        assert tracing.enabled
        with tracing.run(agent="a", run_uid="u", namespace="n", name="r") as span:
            assert span.is_recording()
            trace_id = tracing.trace_id()
            assert trace_id is not None
            assert len(trace_id) == 32
        assert tracing.trace_id() is None
    finally:
        tracing.shutdown()


def test_grpc_and_malformed_headers_are_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        load_settings({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    settings = load_settings(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_HEADERS": "nokey"}
    ).tracing
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_HEADERS"):
        RunTracing.from_settings(settings)
