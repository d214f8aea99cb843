"""PostgreSQL persistence: the run journal, tool calls, token usage, the audit log, inventory.

Contract:

- Only this package talks to PostgreSQL, through psycopg 3 (async) and one connection pool per
  process. Every statement uses bound parameters.
- It speaks typed records (:mod:`.records`), never rows; psycopg's exceptions are translated
  in one place (:mod:`.errors`): :class:`JournalUnavailable` is temporary (wait and retry),
  everything else is permanent.
- The schema comes from versioned SQL migrations applied by ``mission-control migrate``;
  :meth:`Store.open` refuses a database whose schema is older than this code needs
  (:class:`SchemaTooOld`).
- Journal ``seq`` numbers are 1..N per run without gaps, even with concurrent appenders; each
  committed event is announced with ``NOTIFY mc_task_events`` ``{"run_uid", "seq"}``. An
  append with a caller-chosen ``event_id`` (unique per run) is stored once however often it
  is retried.
- A tool call's intent is durable before :meth:`ToolCalls.record_intent` returns.
- ``audit_entries`` rejects UPDATE, DELETE and TRUNCATE in the database itself (triggers, and
  grants: :mod:`.roles`), and every entry carries the keyed hash of the one before it
  (:mod:`.audit_chain`); :meth:`Audit.head` is what a checkpoint outside the database records.
- Every write the run loop makes is keyed by the caller and safe to retry (:mod:`.keyed`);
  every jsonb value passes one seam (:mod:`.json_values`).
- Inventory rows are never deleted: items gone from their source are marked removed.
"""

from mission_control.store.api import Store
from mission_control.store.audit_key import AuditKey, require_audit_key
from mission_control.store.conversation import MESSAGES_KEY
from mission_control.store.errors import (
    InvalidTransition,
    JournalUnavailable,
    MigrationError,
    RecordNotFound,
    SchemaTooOld,
    StoreError,
    StoreRejected,
)
from mission_control.store.journal import EVENTS_CHANNEL
from mission_control.store.migrate import apply_migrations
from mission_control.store.notifications import NotificationOutcome
from mission_control.store.records import (
    AuditEntry,
    ChainHead,
    Conversation,
    EventNotice,
    InventoryKind,
    InventoryObservation,
    InventoryRecord,
    InventoryRefresh,
    JournalEvent,
    RunRecord,
    RunSnapshot,
    SnapshotCounts,
    TaskRecord,
    TaskSnapshot,
    ToolCallRecord,
    ToolDefinitionRecord,
    UsageEntry,
    UsageSum,
    UsageTotal,
    VerifyResult,
)
from mission_control.store.schema import required_version

__all__ = [
    "EVENTS_CHANNEL",
    "MESSAGES_KEY",
    "AuditEntry",
    "AuditKey",
    "ChainHead",
    "Conversation",
    "EventNotice",
    "InvalidTransition",
    "InventoryKind",
    "InventoryObservation",
    "InventoryRecord",
    "InventoryRefresh",
    "JournalEvent",
    "JournalUnavailable",
    "MigrationError",
    "NotificationOutcome",
    "RecordNotFound",
    "RunRecord",
    "RunSnapshot",
    "SchemaTooOld",
    "SnapshotCounts",
    "Store",
    "StoreError",
    "StoreRejected",
    "TaskRecord",
    "TaskSnapshot",
    "ToolCallRecord",
    "ToolDefinitionRecord",
    "UsageEntry",
    "UsageSum",
    "UsageTotal",
    "VerifyResult",
    "apply_migrations",
    "require_audit_key",
    "required_version",
]
