"""The TaskTrigger resource: when runs of a Task start by themselves (a schedule or an alert)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mission_control.resources.common import (
    Condition,
    DnsSubdomain,
    KubernetesObject,
    Metadata,
    Resource,
    require_unique,
)
from mission_control.resources.schemas import patterns
from mission_control.resources.task import ParamName
from mission_control.resources.taskrun import TaskRef

__all__ = [
    "AlertMatcher",
    "AlertSource",
    "ConcurrencyPolicy",
    "RecentAlert",
    "RunTemplate",
    "Schedule",
    "SecretKeyRef",
    "TaskTrigger",
    "TaskTriggerSpec",
    "TaskTriggerStatus",
    "TriggerCounts",
    "TriggerParam",
    "TriggerRun",
]

ConcurrencyPolicy = Literal["Allow", "Forbid", "Replace"]
LabelName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
#: Most runs a history limit keeps; also the most alert fingerprints status remembers.
HISTORY_MAX = 100


class TriggerParam(Resource):
    """A value for one of the Task's params: literal, or ``$(alert.labels.NAME)`` parts."""

    name: ParamName
    value: str = Field(max_length=4096)


class Schedule(Resource):
    """A cron schedule in a time zone."""

    cron: str = Field(min_length=1, max_length=200, pattern=patterns.CRON)
    time_zone: str = Field(default="UTC", max_length=64, pattern=patterns.TIME_ZONE)
    starting_deadline_seconds: int | None = Field(default=None, ge=1, le=86400 * 7)


class AlertMatcher(Resource):
    """One label condition an alert must meet, as Alertmanager writes matchers."""

    label: LabelName
    op: Literal["=", "!=", "=~", "!~"] = "="
    value: str = Field(max_length=1024)


class SecretKeyRef(Resource):
    """A key of a Secret in the trigger's namespace."""

    name: DnsSubdomain
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class AlertSource(Resource):
    """Alertmanager's webhook: which alerts start a run, how it authenticates, de-duplication."""

    matchers: list[AlertMatcher] = Field(default_factory=list, max_length=20)
    token_secret_ref: SecretKeyRef
    cooldown_seconds: int = Field(default=3600, ge=0, le=86400 * 7)
    on_resolved: Literal["Ignore", "Start"] = "Ignore"


class RunTemplate(Resource):
    """Fields copied into each TaskRun the trigger creates."""

    dry_run: bool | None = None
    service_account_name: DnsSubdomain | None = None
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0, le=31536000)


class TaskTriggerSpec(Resource):
    """When runs of a Task start: exactly one of ``schedule`` or ``alert``."""

    task_ref: TaskRef
    params: list[TriggerParam] = Field(default_factory=list, max_length=50)
    schedule: Schedule | None = None
    alert: AlertSource | None = None
    concurrency_policy: ConcurrencyPolicy = "Allow"
    suspend: bool = False
    successful_runs_history_limit: int = Field(default=3, ge=0, le=HISTORY_MAX)
    failed_runs_history_limit: int = Field(default=1, ge=0, le=HISTORY_MAX)
    run_template: RunTemplate | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TaskTriggerSpec:
        if (self.schedule is None) == (self.alert is None):
            raise ValueError("exactly one of spec.schedule or spec.alert must be set")
        return self

    @field_validator("params")
    @classmethod
    def _unique_params(cls, params: list[TriggerParam]) -> list[TriggerParam]:
        require_unique([param.name for param in params], what="param names")
        return params


class TriggerRun(Resource):
    """A TaskRun the trigger started."""

    name: str = Field(max_length=253)
    uid: str | None = Field(default=None, max_length=64)
    succeeded: Literal["True", "False", "Unknown"] | None = None


class TriggerCounts(Resource):
    """What the trigger did since it was created."""

    started: int = Field(default=0, ge=0)
    deduplicated: int = Field(default=0, ge=0)
    skipped: int = Field(default=0, ge=0)
    refused: int = Field(default=0, ge=0)


class RecentAlert(Resource):
    """An alert fingerprint that started a run, for the cooldown."""

    fingerprint: str = Field(max_length=64)
    started_at: datetime


class TaskTriggerStatus(Resource):
    """Observed state of a TaskTrigger."""

    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    kind: Literal["Schedule", "Alert"] | None = None
    summary: str | None = Field(default=None, max_length=100)
    last_trigger_time: datetime | None = None
    last_schedule_time: datetime | None = None
    next_schedule_time: datetime | None = None
    active: list[TriggerRun] = Field(default_factory=list, max_length=HISTORY_MAX)
    last_run: TriggerRun | None = None
    counts: TriggerCounts | None = None
    recent_alerts: list[RecentAlert] = Field(default_factory=list, max_length=HISTORY_MAX)


class TaskTrigger(KubernetesObject):
    """A TaskTrigger object."""

    api_version: Literal["missioncontrol.dev/v1alpha1"] = "missioncontrol.dev/v1alpha1"
    kind: Literal["TaskTrigger"] = "TaskTrigger"
    metadata: Metadata
    spec: TaskTriggerSpec
    status: TaskTriggerStatus | None = None
