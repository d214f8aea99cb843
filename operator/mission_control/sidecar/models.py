"""The API's response bodies: pydantic models, from which the OpenAPI document is generated.

Each model is built from a store record or a Kubernetes object at the edge (``from_*``), so the
routes only choose what to read and who may see it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from mission_control.store import InventoryRecord, JournalEvent, RunRecord, UsageSum

__all__ = [
    "ConnectorHealth",
    "ErrorBody",
    "EventOut",
    "EventPage",
    "Health",
    "InventoryItem",
    "InventoryOut",
    "NamespaceUsageOut",
    "NamespaceUsageRow",
    "RunOut",
    "RunPage",
    "TaskOut",
    "TaskPage",
    "UsageOut",
    "UsageRow",
]


#: Money as a JSON number (stored exactly as numeric; a float is precise enough to read).
Usd = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorBody(_Out):
    """Every error: a short machine-readable kind and a sentence for people."""

    error: str = Field(description="not_found, unauthorized, forbidden, bad_request, ...")
    message: str


class ConnectorHealth(_Out):
    """One dependency as the health check saw it."""

    configured: bool
    reachable: bool
    message: str = ""


class Health(_Out):
    """``status`` is unhealthy only when the database or Kubernetes is unreachable."""

    status: Literal["healthy", "degraded", "unhealthy"]
    timestamp: dt.datetime
    version: str
    connectors: dict[str, bool]
    details: dict[str, ConnectorHealth]


class InventoryItem(_Out):
    """A host, workload or service, as last seen by its source."""

    id: str
    source: str
    kind: str
    name: str
    namespace: str
    node: str
    live: dict[str, Any]
    metadata: dict[str, Any]
    first_seen: dt.datetime
    last_seen: dt.datetime
    stale: bool = Field(description="Its source failed at the last refresh: data may be old.")
    removed: bool
    removed_at: dt.datetime | None

    @classmethod
    def from_record(cls, record: InventoryRecord) -> InventoryItem:
        # Every field is the record's attribute of the same name.
        return cls.model_validate(record, from_attributes=True)


class InventoryOut(_Out):
    """The whole inventory."""

    hosts: list[InventoryItem]
    workloads: list[InventoryItem]
    services: list[InventoryItem]


class TaskOut(_Out):
    """A Task as the Kubernetes API has it, with its Ready condition."""

    namespace: str
    name: str
    uid: str
    created_at: str = Field(description="metadata.creationTimestamp")
    spec: dict[str, Any]
    ready: Literal["True", "False", "Unknown"]
    ready_reason: str
    ready_message: str

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> TaskOut:
        meta = obj.get("metadata") or {}
        ready: dict[str, Any] = {}
        for condition in (obj.get("status") or {}).get("conditions") or []:
            if isinstance(condition, dict) and condition.get("type") == "Ready":
                ready = condition
        status = ready.get("status")
        return cls(
            namespace=str(meta.get("namespace") or ""),
            name=str(meta.get("name") or ""),
            uid=str(meta.get("uid") or ""),
            created_at=str(meta.get("creationTimestamp") or ""),
            spec=obj.get("spec") or {},
            ready=status if status in ("True", "False") else "Unknown",
            ready_reason=str(ready.get("reason") or ""),
            ready_message=str(ready.get("message") or ""),
        )


class TaskPage(_Out):
    """Tasks by namespace and name."""

    items: list[TaskOut]


class RunOut(_Out):
    """A run as recorded: its status and totals (the resolved spec with ``?spec=true``)."""

    uid: str
    namespace: str
    name: str
    task: str
    provider: str
    model: str
    succeeded: Literal["Unknown", "True", "False"]
    reason: str
    message: str
    created_at: dt.datetime
    start_time: dt.datetime | None
    completion_time: dt.datetime | None
    steps: int
    tool_calls: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: Usd
    events: int = Field(description="How many journal events the run has (the newest seq).")
    spec: dict[str, Any] | None = None

    @classmethod
    def from_record(cls, record: RunRecord, *, with_spec: bool = False) -> RunOut:
        return cls(
            uid=record.uid,
            namespace=record.namespace,
            name=record.name,
            task=record.task_name,
            provider=record.provider,
            model=record.model,
            succeeded=record.succeeded,
            reason=record.reason,
            message=record.message,
            created_at=record.created_at,
            start_time=record.start_time,
            completion_time=record.completion_time,
            steps=record.steps,
            tool_calls=record.tool_calls,
            prompt_tokens=record.prompt_tokens,
            completion_tokens=record.completion_tokens,
            total_tokens=record.prompt_tokens + record.completion_tokens,
            cost_usd=record.cost_usd,
            events=record.last_seq,
            spec=record.spec if with_spec else None,
        )


class RunPage(_Out):
    """A page of runs, newest first; pass ``next_cursor`` as ``cursor`` for the next page."""

    items: list[RunOut]
    next_cursor: str | None


class EventOut(_Out):
    """One journal event."""

    seq: int
    type: str
    payload: dict[str, Any]
    created_at: dt.datetime

    @classmethod
    def from_record(cls, event: JournalEvent) -> EventOut:
        return cls(
            seq=event.seq, type=event.type, payload=event.payload, created_at=event.created_at
        )


class EventPage(_Out):
    """Events after ``after``, oldest first; ``next_after`` continues when more remain."""

    items: list[EventOut]
    next_after: int | None


class _UsageSums(_Out):
    # The sums every usage row ends with, built from the store's totals of the same names.
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: Usd

    @classmethod
    def from_total(cls, total: UsageSum) -> Self:
        return cls.model_validate(total, from_attributes=True)


RowT = TypeVar("RowT", bound=_UsageSums)


class _UsageList(_Out, Generic[RowT]):
    # Rows with their grand total.
    items: list[RowT]
    total_tokens: int
    cost_usd: Usd

    @classmethod
    def of(cls, rows: list[RowT]) -> Self:
        return cls(
            items=rows,
            total_tokens=sum(row.total_tokens for row in rows),
            cost_usd=sum((row.cost_usd for row in rows), Decimal(0)),
        )


# A row's grouping fields stand first in its JSON. Pydantic orders fields base first along the
# reversed MRO, so they are a base listed after the sums.


class _DayKey(_Out):
    day: dt.date
    provider: str
    model: str


class _NamespaceKey(_Out):
    namespace: str


class UsageRow(_UsageSums, _DayKey):
    """Tokens and cost of one UTC day, provider and model."""


class UsageOut(_UsageList[UsageRow]):
    """Usage grouped by day, provider and model, with the grand total."""


class NamespaceUsageRow(_UsageSums, _NamespaceKey):
    """Tokens and cost of one namespace."""


class NamespaceUsageOut(_UsageList[NamespaceUsageRow]):
    """Usage grouped by namespace, with the grand total."""
