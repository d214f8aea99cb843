"""Typed records the store accepts and returns; rows never leave the store.

Field names match the columns, so rows map onto these classes directly. JSON columns are plain
``dict``/``list`` values that round-trip through ``jsonb``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "ActorKind",
    "AuditEntry",
    "ChainHead",
    "Conversation",
    "EventNotice",
    "InventoryKind",
    "InventoryObservation",
    "InventoryRecord",
    "InventoryRefresh",
    "JournalEvent",
    "JsonObject",
    "Risk",
    "RunRecord",
    "RunSnapshot",
    "SnapshotCounts",
    "Succeeded",
    "TaskRecord",
    "TaskSnapshot",
    "ToolCallRecord",
    "ToolCallStatus",
    "ToolDefinitionRecord",
    "UsageEntry",
    "UsageSum",
    "UsageTotal",
    "VerifyResult",
]

JsonObject = dict[str, Any]
Risk = Literal["READ_ONLY", "SAFE_MUTATE", "DESTRUCTIVE"]
ToolCallStatus = Literal["intent", "completed", "failed", "unknown"]
Succeeded = Literal["Unknown", "True", "False"]
ActorKind = Literal["user", "operator"]
InventoryKind = Literal["hosts", "workloads", "services"]


# The journal


@dataclass(frozen=True, kw_only=True)
class JournalEvent:
    """One event of a run's journal; ``seq`` counts from 1 per run without gaps.

    ``event_id`` is the caller's own id for the event, when it gave one (unique per run).
    """

    run_uid: str
    seq: int
    type: str
    payload: JsonObject
    created_at: dt.datetime
    event_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class EventNotice:
    """What a ``NOTIFY`` on the journal channel says: this run has an event with this seq."""

    run_uid: str
    seq: int


@dataclass(frozen=True, kw_only=True)
class Conversation:
    """What a run needs to resume: its messages so far and the tool calls left open."""

    run_uid: str
    messages: tuple[JsonObject, ...]
    last_seq: int
    open_tool_calls: tuple[ToolCallRecord, ...]


# Tools


@dataclass(frozen=True, kw_only=True)
class ToolDefinitionRecord:
    """A registered tool as offered to models (its JSON schema is ``parameters``)."""

    name: str
    description: str
    risk: Risk
    parameters: JsonObject
    connector: str = ""
    timeout_seconds: float


@dataclass(frozen=True, kw_only=True)
class ToolCallRecord:
    """One tool call: written as ``intent`` before it runs, then resolved once."""

    run_uid: str
    tool_call_id: str
    tool: str
    risk: Risk
    arguments: JsonObject
    args_digest: str
    decision: str
    approver: str
    dry_run: bool
    status: ToolCallStatus
    output_digest: str
    error: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_ms: float | None


# Token usage


@dataclass(frozen=True, kw_only=True)
class UsageEntry:
    """The tokens and cost of one LLM request."""

    run_uid: str
    provider: str
    model: str
    namespace: str
    task: str = ""
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal = Decimal(0)
    request_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class UsageSum:
    """Totals over a set of requests."""

    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: Decimal


@dataclass(frozen=True, kw_only=True)
class UsageTotal(UsageSum):
    """Totals for one UTC day, provider and model."""

    day: dt.date
    provider: str
    model: str


# Tasks and runs, mirrored from the custom resources


@dataclass(frozen=True, kw_only=True)
class TaskSnapshot:
    """What the operator knows about a Task right now."""

    uid: str
    namespace: str
    name: str
    generation: int
    spec: JsonObject
    ready_reason: str = ""
    created_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class TaskRecord(TaskSnapshot):
    """A Task as stored; ``deleted_at`` is set once the custom resource is gone."""

    updated_at: dt.datetime
    deleted_at: dt.datetime | None


@dataclass(frozen=True, kw_only=True)
class RunSnapshot:
    """What the operator knows about a TaskRun right now (``spec``: the resolved snapshot)."""

    uid: str
    namespace: str
    name: str
    task_name: str = ""
    spec: JsonObject
    provider: str = ""
    model: str = ""
    succeeded: Succeeded = "Unknown"
    reason: str = "Pending"
    message: str = ""
    created_at: dt.datetime
    start_time: dt.datetime | None = None
    completion_time: dt.datetime | None = None
    steps: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Decimal = Decimal(0)


@dataclass(frozen=True, kw_only=True)
class RunRecord(RunSnapshot):
    """A TaskRun as stored, with the seq of its newest journal event."""

    last_seq: int
    updated_at: dt.datetime


# The audit log


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """One link of the audit chain: ``hash`` covers every other field and ``prev_hash``."""

    id: int
    actor: str
    actor_kind: ActorKind
    action: str
    target: str
    decision: str
    outcome: str
    run_uid: str | None
    namespace: str
    details: JsonObject
    created_at: dt.datetime
    prev_hash: str
    hash: str


@dataclass(frozen=True, kw_only=True)
class ChainHead:
    """The newest entry of the audit chain: what a checkpoint outside the database records."""

    entry_id: int
    hash: str


@dataclass(frozen=True, kw_only=True)
class VerifyResult:
    """The outcome of walking the audit chain (and comparing it with a checkpoint, if given).

    ``truncated``: the chain is intact as far as it goes but ends before the checkpointed
    entry, so entries at its tail were deleted.
    """

    checked: int
    first_broken_id: int | None = None
    what_differs: str = ""
    head: ChainHead | None = None
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None and not self.truncated


# Inventory


@dataclass(frozen=True, kw_only=True)
class InventoryObservation:
    """A host, workload or service as seen by one source (``id`` like ``k8s:node:NAME``)."""

    id: str
    source: str
    kind: str
    name: str
    namespace: str = ""
    node: str = ""
    live: JsonObject = field(default_factory=dict)
    metadata: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class InventoryRecord(InventoryObservation):
    """An inventory item as stored, with its history flags."""

    first_seen: dt.datetime
    last_seen: dt.datetime
    stale: bool
    removed: bool
    removed_at: dt.datetime | None


@dataclass(frozen=True, kw_only=True)
class InventoryRefresh:
    """One refresh: items from the sources that answered, and the sources that failed.

    Items of a refreshed source that are missing here are marked removed; items of a failed
    source keep their last good data and are marked stale.
    """

    hosts: Sequence[InventoryObservation] = ()
    workloads: Sequence[InventoryObservation] = ()
    services: Sequence[InventoryObservation] = ()
    refreshed_sources: frozenset[str] = frozenset()
    failed_sources: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class SnapshotCounts:
    """What one snapshot changed, per table."""

    upserted: int
    removed: int
    stale: int
