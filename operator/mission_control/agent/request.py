"""The inputs and the outcome of one run of the loop.

:class:`RunRequest` is everything the handler resolved from Kubernetes for one TaskRun;
:class:`AgentServices` is what every run shares (built once by the composition root);
:class:`RunOutcome` is how the run ended, already written to status by the loop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from mission_control.agent.ports import ProviderSource
from mission_control.llm.catalog import ModelCatalog
from mission_control.llm.chain import DEFAULT_COOLDOWN_SECONDS
from mission_control.llm.models import load_model_table
from mission_control.llm.pricing import PriceTable
from mission_control.resources.task import TaskSpec
from mission_control.resources.taskrun import TaskRunSpec
from mission_control.resources.toolpolicy import Approver
from mission_control.runs.notify import NotifyRoute
from mission_control.runs.policy import ClusterPolicy
from mission_control.runs.resolve import DEFAULT_SERVICE_ACCOUNT, RunPolicy
from mission_control.runs.status import RunReason, StepCounts
from mission_control.settings import Provider
from mission_control.store import Store
from mission_control.telemetry import OperatorMetrics, RunTracing
from mission_control.tools import ToolContext, ToolRegistry

__all__ = ["AgentLimits", "AgentServices", "RunOutcome", "RunRequest", "utc_now"]


def utc_now() -> dt.datetime:
    """The current time in UTC (the default clock)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """One TaskRun, resolved by the handler.

    ``task`` is the Task's spec (``taskRef``) or the inline ``taskSpec``; ``task_name`` is
    ``NAMESPACE/NAME`` of the Task, or ``""`` for an inline one. ``creator`` is the
    ``missioncontrol.dev/requested-by`` annotation (stamped by the API server), None if absent.
    ``service_account`` is the ServiceAccount name Kubernetes tools impersonate (see
    :func:`mission_control.runs.resolve.service_account`); ``service_account_exists`` False makes
    every Kubernetes tool call fail with how to create it, without calling the API server.
    """

    namespace: str
    name: str
    uid: str
    generation: int | None
    created_at: dt.datetime
    creator: str | None
    spec: TaskRunSpec
    task: TaskSpec
    task_name: str
    policy: RunPolicy = field(default_factory=RunPolicy)
    cluster_policies: tuple[ClusterPolicy, ...] = ()
    cluster_approvers: tuple[Approver, ...] = ()
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    service_account: str = DEFAULT_SERVICE_ACCOUNT
    service_account_exists: bool = True
    #: Who hears of the run's transitions (the policies' ``notify``), besides the operator-wide
    #: receivers.
    notify_routes: tuple[NotifyRoute, ...] = ()


@dataclass(frozen=True, kw_only=True)
class AgentLimits:
    """Bounds the loop keeps whatever a Task says."""

    #: Tool calls run per model answer; the rest are refused with a message to the model.
    max_tool_calls_per_step: int = 16
    #: Characters of a tool's output the model gets (the journal keeps up to 1 MiB).
    model_output_chars: int = 16 * 1024
    #: Seconds one LLM request may take when the run has no deadline of its own.
    request_timeout_seconds: float = 300.0


@dataclass(frozen=True, kw_only=True)
class AgentServices:
    """What every run shares: providers, tools, store, prices, limits, clock, metrics.

    ``tools`` is the base tool context; the loop sets the identity to impersonate per run.
    ``metrics`` is where the loop counts runs, tokens, tool calls and journal writes;
    ``tracing`` traces them (disabled unless configured). ``catalog`` describes models (context
    window, tools); ``fallbacks`` is the operator's default chain (``MC_MODEL_FALLBACKS``), used
    when the run's model names no fallbacks of its own.
    """

    providers: ProviderSource
    registry: ToolRegistry
    tools: ToolContext
    store: Store
    prices: PriceTable
    limits: AgentLimits = field(default_factory=AgentLimits)
    clock: Callable[[], dt.datetime] = utc_now
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)
    tracing: RunTracing = field(default_factory=RunTracing)
    catalog: ModelCatalog = field(
        default_factory=lambda: ModelCatalog(table=load_model_table(None))
    )
    fallbacks: tuple[tuple[Provider, str], ...] = ()
    fallback_cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS


@dataclass(frozen=True, kw_only=True)
class RunOutcome:
    """How a run ended; the loop has already patched status and posted the Event."""

    reason: RunReason
    message: str
    summary: str | None
    counts: StepCounts

    @property
    def cost_usd(self) -> Decimal:
        return self.counts.cost_usd
