"""The sidecar's own Prometheus metrics, in a registry of its own (served at ``/metrics``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["SidecarMetrics"]


@dataclass
class SidecarMetrics:
    """Requests by route and status, stream clients, deliveries and slow clients dropped."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "mission_control_sidecar_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "mission_control_sidecar_request_seconds",
            "Time to answer a request (for streams: until the response started).",
            ["route"],
            registry=self.registry,
        )
        self.sse_clients = Gauge(
            "mission_control_sse_clients",
            "Event stream clients connected now.",
            registry=self.registry,
        )
        self.sse_events = Counter(
            "mission_control_sse_events_delivered",
            "Events handed to stream clients (one per client per event).",
            registry=self.registry,
        )
        self.sse_dropped = Counter(
            "mission_control_sse_clients_dropped",
            "Stream clients dropped because they did not keep up.",
            registry=self.registry,
        )
