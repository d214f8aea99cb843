"""The TaskRun resource: one execution of a Task."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mission_control.resources.common import (
    Condition,
    DnsSubdomain,
    KubernetesObject,
    Metadata,
    ModelRef,
    Resource,
    UsdTotal,
    UserName,
    require_unique,
)
from mission_control.resources.schemas import patterns
from mission_control.resources.task import ParamName, TaskSpec

__all__ = [
    "AppliedApproval",
    "Approval",
    "ChainModel",
    "ModelUsage",
    "PendingApproval",
    "ResolvedSpec",
    "RunResult",
    "TaskRef",
    "TaskRun",
    "TaskRunParam",
    "TaskRunSpec",
    "TaskRunStatus",
    "UsageStatus",
]

RunControl = Literal["", "Pending", "Cancelled"]
Decision = Literal["Approve", "Reject"]
Risk = Literal["READ_ONLY", "SAFE_MUTATE", "DESTRUCTIVE"]
ToolCallId = Annotated[str, Field(min_length=1, max_length=64)]
ArgsDigest = Annotated[str, Field(pattern=patterns.ARGS_DIGEST)]


class TaskRef(Resource):
    """The Task to run, in the same namespace."""

    name: DnsSubdomain


class TaskRunParam(Resource):
    """A value for one of the Task's parameters."""

    name: ParamName
    value: str = Field(max_length=4096)


class Approval(Resource):
    """A person's decision on a held tool call."""

    tool_call_id: ToolCallId
    decision: Decision
    by: UserName
    groups: list[UserName] | None = Field(default=None, max_length=patterns.MAX_GROUPS)
    message: str | None = Field(default=None, max_length=1024)
    args_digest: ArgsDigest | None = None

    @field_validator("groups")
    @classmethod
    def _unique_groups(cls, groups: list[str] | None) -> list[str] | None:
        require_unique(groups or [], what="groups")
        return groups


class TaskRunSpec(Resource):
    """What to run and how; ``status`` and ``approvals`` are how people steer a run."""

    task_ref: TaskRef | None = None
    task_spec: TaskSpec | None = None
    params: list[TaskRunParam] = Field(default_factory=list, max_length=50)
    model: ModelRef | None = None
    status: RunControl | None = None
    status_message: str | None = Field(default=None, max_length=1024)
    dry_run: bool | None = None
    service_account_name: DnsSubdomain | None = None
    approvals: list[Approval] = Field(default_factory=list, max_length=100)
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0, le=31536000)

    @model_validator(mode="after")
    def _one_task_source(self) -> TaskRunSpec:
        if (self.task_ref is None) == (self.task_spec is None):
            raise ValueError("exactly one of spec.taskRef or spec.taskSpec must be set")
        return self

    @field_validator("params")
    @classmethod
    def _unique_params(cls, params: list[TaskRunParam]) -> list[TaskRunParam]:
        require_unique([param.name for param in params], what="param names")
        return params

    @field_validator("approvals")
    @classmethod
    def _one_decision_per_call_and_person(cls, approvals: list[Approval]) -> list[Approval]:
        # The list-map key is (toolCallId, by): several people may decide one call (quorum),
        # each once.
        require_unique(
            [f"{a.tool_call_id} by {a.by}" for a in approvals], what="approvals (toolCallId, by)"
        )
        return approvals


class ChainModel(Resource):
    """One model of the run's fallback chain."""

    provider: str = Field(max_length=63)
    model: str = Field(max_length=200)


class ResolvedSpec(Resource):
    """What the run resolved at start (the full snapshot lives in the journal)."""

    task: str | None = Field(default=None, max_length=253)
    provider: str | None = Field(default=None, max_length=63)
    model: str | None = Field(default=None, max_length=200)
    tools: list[Annotated[str, Field(max_length=63)]] = Field(default_factory=list, max_length=64)
    policy: str | None = Field(default=None, max_length=253)
    policy_generation: int | None = Field(default=None, ge=0)
    chain: list[ChainModel] = Field(default_factory=list, max_length=patterns.MAX_FALLBACKS + 1)


class ModelUsage(Resource):
    """Tokens and cost of the requests one model of the chain answered."""

    provider: str = Field(max_length=63)
    model: str = Field(max_length=200)
    requests: int = Field(default=0, ge=0)
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    cost_usd: UsdTotal | None = Field(default=None, alias="costUSD")


class UsageStatus(Resource):
    """Tokens and cost so far, in all and per model that answered."""

    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    total_tokens: int = Field(default=0, ge=0)
    cost_usd: UsdTotal | None = Field(default=None, alias="costUSD")
    by_model: list[ModelUsage] = Field(default_factory=list, max_length=patterns.MAX_FALLBACKS + 1)


class PendingApproval(Resource):
    """The tool call waiting for a decision."""

    tool_call_id: Annotated[str, Field(max_length=64)]
    tool: Annotated[str, Field(max_length=63)]
    risk: Risk
    arguments: str = Field(max_length=2048)  # JSON text, truncated by the operator
    args_digest: ArgsDigest
    requested_at: datetime
    expires_at: datetime


class AppliedApproval(Resource):
    """A decision the operator applied."""

    tool_call_id: Annotated[str, Field(max_length=64)]
    decision: Decision
    by: Annotated[str, Field(max_length=patterns.USER_NAME_MAX)]
    at: datetime


class RunResult(Resource):
    """The outcome of the run."""

    summary: str | None = Field(default=None, max_length=8192)  # truncated by the operator


class TaskRunStatus(Resource):
    """Observed state of a TaskRun; stays small (transcripts live in PostgreSQL)."""

    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    start_time: datetime | None = None
    completion_time: datetime | None = None
    resolved: ResolvedSpec | None = None
    steps: int | None = Field(default=None, ge=0)
    tool_calls: int | None = Field(default=None, ge=0)
    usage: UsageStatus | None = None
    pending_approval: PendingApproval | None = None
    approvals: list[AppliedApproval] = Field(default_factory=list, max_length=100)
    result: RunResult | None = None
    trace_id: str | None = Field(default=None, alias="traceID", pattern=r"^[0-9a-f]{32}$")


class TaskRun(KubernetesObject):
    """A TaskRun object."""

    api_version: Literal["missioncontrol.dev/v1alpha1"] = "missioncontrol.dev/v1alpha1"
    kind: Literal["TaskRun"] = "TaskRun"
    metadata: Metadata
    spec: TaskRunSpec
    status: TaskRunStatus | None = None
