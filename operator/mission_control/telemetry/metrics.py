"""The operator's Prometheus metrics, in a registry of its own, and the endpoint serving them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from threading import Thread
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from mission_control.errors import ConfigError
from mission_control.llm.client import Attempt
from mission_control.runs.status import DONE_REASONS

__all__ = ["OperatorMetrics", "serve_metrics"]

#: Runs take seconds to hours (approvals wait for people).
_RUN_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, float("inf"))
#: LLM requests: a local model answers in milliseconds, a large remote one in a minute.
_LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, float("inf"))
#: Tool calls and journal writes: milliseconds to a tool's timeout.
_SHORT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
#: A model's tool name outside the registry is not a label value of its own.
UNKNOWN_TOOL = "unknown"


class OperatorMetrics:
    """Every operator metric; ``namespace_label`` adds the run's namespace where it applies."""

    def __init__(
        self, *, namespace_label: bool = False, registry: CollectorRegistry | None = None
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self.namespace_label = namespace_label
        ns: list[str] = ["namespace"] if namespace_label else []
        reg = self.registry
        self.runs_started = Counter(
            "mission_control_runs_started", "Runs the loop started or resumed.", ns, registry=reg
        )
        self.runs_finished = Counter(
            "mission_control_runs_finished",
            "Runs ended, by the reason of their Succeeded condition.",
            [*ns, "reason"],
            registry=reg,
        )
        self.run_duration = Histogram(
            "mission_control_run_duration_seconds",
            "Time from a run's start in the loop to its end, by reason.",
            ["reason"],
            buckets=_RUN_BUCKETS,
            registry=reg,
        )
        self.runs_active = Gauge(
            "mission_control_runs_active", "Runs being driven now.", registry=reg
        )
        self.runs_queued = Gauge(
            "mission_control_runs_queued",
            "Runs waiting for a slot (MC_MAX_CONCURRENT_RUNS).",
            registry=reg,
        )
        self.runs_awaiting_approval = Gauge(
            "mission_control_runs_awaiting_approval",
            "Runs holding a tool call for people's approval (pending approvals).",
            registry=reg,
        )
        self.approval_wait = Gauge(
            "mission_control_approval_wait_oldest_seconds",
            "How long the longest-waiting held tool call has waited for people, since this "
            "operator began waiting for it (0: none held).",
            registry=reg,
        )
        self.daily_budget_used = Gauge(
            "mission_control_daily_budget_used_ratio",
            "Share of a namespace's per-day budget (a ToolPolicy's maxTokensPerDay, "
            "maxCostUSDPerDay) used today, as checked before a run's last LLM request.",
            ["namespace", "limit"],
            registry=reg,
        )
        self.llm_requests = Counter(
            "mission_control_llm_requests",
            "Attempts to get an answer from a provider (retries count), by outcome.",
            ["provider", "model", "outcome"],
            registry=reg,
        )
        self.llm_latency = Histogram(
            "mission_control_llm_request_duration_seconds",
            "Time of one attempt, by provider, model and outcome.",
            ["provider", "model", "outcome"],
            buckets=_LLM_BUCKETS,
            registry=reg,
        )
        self.llm_tokens = Counter(
            "mission_control_llm_tokens",
            "Tokens of answered requests, by kind (input, output).",
            [*ns, "provider", "model", "kind"],
            registry=reg,
        )
        self.llm_cost = Counter(
            "mission_control_llm_cost_usd",
            "What answered requests cost, in US dollars (by the price table).",
            [*ns, "provider", "model"],
            registry=reg,
        )
        self.llm_fallbacks = Counter(
            "mission_control_llm_fallbacks",
            "Failovers from one model of a run's chain to the next, by providers and reason.",
            ["from_provider", "to_provider", "reason"],
            registry=reg,
        )
        self.tool_calls = Counter(
            "mission_control_tool_calls",
            "Tool calls the model asked for, by tool, risk, policy decision and outcome.",
            ["tool", "risk", "decision", "outcome"],
            registry=reg,
        )
        self.tool_latency = Histogram(
            "mission_control_tool_duration_seconds",
            "Time a tool took to run (calls that ran only).",
            ["tool"],
            buckets=_SHORT_BUCKETS,
            registry=reg,
        )
        self.journal_latency = Histogram(
            "mission_control_journal_write_duration_seconds",
            "Time of one write of a run to PostgreSQL (journal, records, audit).",
            buckets=_SHORT_BUCKETS,
            registry=reg,
        )
        self.journal_failures = Counter(
            "mission_control_journal_write_failures",
            "Writes of a run that found PostgreSQL unavailable (each is retried).",
            registry=reg,
        )
        self.inventory_refreshes = Counter(
            "mission_control_inventory_refreshes",
            "Inventory refreshes of a source, by outcome (ok, failed).",
            ["source", "outcome"],
            registry=reg,
        )
        self.inventory_failures = Counter(
            "mission_control_inventory_refresh_failures",
            "Failed refreshes of an inventory source (its last good data is kept, stale).",
            ["source"],
            registry=reg,
        )
        self.inventory_age = Gauge(
            "mission_control_inventory_refresh_age_seconds",
            "Seconds since a source's last successful refresh.",
            ["source"],
            registry=reg,
        )
        self.audit_checkpoint_age = Gauge(
            "mission_control_audit_checkpoint_age_seconds",
            "Seconds since the audit chain's head was last checkpointed (-1: never).",
            registry=reg,
        )
        self.audit_checkpoints = Counter(
            "mission_control_audit_checkpoints",
            "Checkpoints of the audit chain's head, by outcome (ok, damaged, failed).",
            ["outcome"],
            registry=reg,
        )
        self.notifications = Counter(
            "mission_control_notifications",
            "Notifications of runs' transitions, one per receiver, by outcome (sent, failed; "
            "dropped: the queue was full).",
            ["outcome"],
            registry=reg,
        )
        self.trigger_outcomes = Counter(
            "mission_control_trigger_outcomes",
            "What TaskTriggers did with schedule ticks and alerts, by source (schedule, "
            "alert) and outcome (started, deduplicated, skipped, refused).",
            ["source", "outcome"],
            registry=reg,
        )
        # A series at 0 for every reason from the start: increase() and rate() count the
        # first run that ends with a reason (a series born at 1 shows no increase).
        for reason in sorted(DONE_REASONS):
            self.run_duration.labels(reason=reason)
            if not namespace_label:
                self.runs_finished.labels(reason=reason)
        self._inventory_success: dict[str, float] = {}
        self._held_since: dict[object, float] = {}
        self.approval_wait.set_function(self._oldest_wait)
        self._checkpoint_at: float | None = None
        self.audit_checkpoint_age.set_function(self._checkpoint_age)

    def _ns(self, namespace: str) -> dict[str, str]:
        return {"namespace": namespace} if self.namespace_label else {}

    # -- runs -------------------------------------------------------------------------------

    @contextmanager
    def run(self, *, namespace: str) -> Iterator[Callable[[str], None]]:
        """Around one drive of a run: active meanwhile; call the yielded ``end(reason)``."""
        started = time.monotonic()
        ns = self._ns(namespace)
        (self.runs_started.labels(**ns) if ns else self.runs_started).inc()
        self.runs_active.inc()
        try:
            yield lambda reason: self.run_finished(
                namespace=namespace, reason=reason, seconds=time.monotonic() - started
            )
        finally:
            self.runs_active.dec()

    def run_finished(self, *, namespace: str, reason: str, seconds: float | None) -> None:
        self.runs_finished.labels(**self._ns(namespace), reason=reason).inc()
        if seconds is not None:
            self.run_duration.labels(reason=reason).observe(seconds)

    @contextmanager
    def queued(self) -> Iterator[None]:
        self.runs_queued.inc()
        try:
            yield
        finally:
            self.runs_queued.dec()

    @contextmanager
    def awaiting_approval(self) -> Iterator[None]:
        token = object()
        self._held_since[token] = time.monotonic()
        self.runs_awaiting_approval.inc()
        try:
            yield
        finally:
            self.runs_awaiting_approval.dec()
            del self._held_since[token]

    def _oldest_wait(self) -> float:
        # A copy: the scrape runs in the metrics server's thread.
        started = list(self._held_since.values())
        return time.monotonic() - min(started) if started else 0.0

    def daily_budgets(
        self,
        *,
        namespace: str,
        tokens: tuple[int, int | None],
        cost: tuple[Decimal, Decimal | None],
    ) -> None:
        """A run's check of its namespace's per-day budgets: (used today, limit or None)."""
        for limit, (used, of) in (("maxTokensPerDay", tokens), ("maxCostUSDPerDay", cost)):
            if of:  # None: no such budget; 0 cannot be configured
                ratio = float(Decimal(used) / Decimal(of))
                self.daily_budget_used.labels(namespace=namespace, limit=limit).set(ratio)

    # -- LLM ----------------------------------------------------------------------------------

    def llm_attempt(self, attempt: Attempt) -> None:
        """The LLM client's attempt hook: every attempt, retries included."""
        labels = {"provider": attempt.provider, "model": attempt.model, "outcome": attempt.outcome}
        self.llm_requests.labels(**labels).inc()
        self.llm_latency.labels(**labels).observe(max(attempt.latency_seconds, 0.0))

    def llm_usage(
        self,
        *,
        namespace: str,
        provider: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cost_usd: Decimal,
    ) -> None:
        ns = self._ns(namespace)
        tokens = self.llm_tokens
        tokens.labels(**ns, provider=provider, model=model, kind="input").inc(input_tokens)
        tokens.labels(**ns, provider=provider, model=model, kind="output").inc(output_tokens)
        self.llm_cost.labels(**ns, provider=provider, model=model).inc(float(cost_usd))

    def llm_fallback(self, *, source: str, target: str, reason: str) -> None:
        """A run's request failed over from provider ``source`` to ``target``."""
        self.llm_fallbacks.labels(from_provider=source, to_provider=target, reason=reason).inc()

    # -- tools and the journal ----------------------------------------------------------------

    def tool_call(
        self, *, tool: str, risk: str, decision: str, outcome: str, seconds: float | None = None
    ) -> None:
        self.tool_calls.labels(tool=tool, risk=risk, decision=decision, outcome=outcome).inc()
        if seconds is not None:
            self.tool_latency.labels(tool=tool).observe(seconds)

    def journal_write(self, seconds: float) -> None:
        self.journal_latency.observe(seconds)

    def journal_failure(self) -> None:
        self.journal_failures.inc()

    # -- inventory and audit --------------------------------------------------------------------

    def inventory_refreshed(self, *, source: str, ok: bool) -> None:
        """One refresh of ``source``; its age is measured from its last success at scrape time."""
        if source not in self._inventory_success:
            self._inventory_success[source] = float("nan")
            self.inventory_age.labels(source=source).set_function(
                lambda: time.monotonic() - self._inventory_success[source]
            )
            self.inventory_failures.labels(source=source)  # a series at 0 from the start
        self.inventory_refreshes.labels(source=source, outcome="ok" if ok else "failed").inc()
        if ok:
            self._inventory_success[source] = time.monotonic()
        else:
            self.inventory_failures.labels(source=source).inc()

    def audit_checkpointed(self, *, outcome: str) -> None:
        self.audit_checkpoints.labels(outcome=outcome).inc()
        if outcome == "ok":
            self._checkpoint_at = time.monotonic()

    def notification(self, *, outcome: str) -> None:
        self.notifications.labels(outcome=outcome).inc()

    def trigger_outcome(self, *, source: str, outcome: str) -> None:
        self.trigger_outcomes.labels(source=source, outcome=outcome).inc()

    def _checkpoint_age(self) -> float:
        at = self._checkpoint_at
        return -1.0 if at is None else time.monotonic() - at


def serve_metrics(metrics: OperatorMetrics, *, host: str, port: int) -> Callable[[], None]:
    """Serve ``/metrics`` on ``host:port`` in a thread of its own; returns how to stop it."""
    server: Any
    thread: Thread
    try:
        server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        raise ConfigError(
            f"MC_METRICS_PORT: cannot serve metrics on {host}:{port}: {exc.strerror or exc}; "
            "choose another port, or 0 for none"
        ) from exc

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
