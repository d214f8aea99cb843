"""What the operator tells about itself: Prometheus metrics (and, when configured, traces).

Contract: below the run loop and the handlers, above the services it observes; it receives
events (a run started, an LLM attempt ended, a tool call was answered) and never decides
anything. Every metric's labels are bounded: reasons, providers, models, tools, risks,
decisions, outcomes and inventory sources; never run names, and namespaces only when
``MC_METRICS_NAMESPACE_LABEL=true``. See ``docs/architecture.md``.
"""

from mission_control.telemetry.metrics import OperatorMetrics, serve_metrics
from mission_control.telemetry.tracing import RunTracing

__all__ = ["OperatorMetrics", "RunTracing", "serve_metrics"]
