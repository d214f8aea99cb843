"""The :class:`Store` facade: one pool, one object per table group, opened and closed together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from mission_control.settings import DatabaseSettings
from mission_control.store.audit import Audit
from mission_control.store.audit_key import AuditKey
from mission_control.store.conversation import build_conversation
from mission_control.store.database import Database
from mission_control.store.follow import follow_run
from mission_control.store.inventory import InventoryItems
from mission_control.store.journal import Journal
from mission_control.store.llm import LlmExchanges
from mission_control.store.migrate import check_schema
from mission_control.store.notifications import Notifications
from mission_control.store.records import Conversation, JournalEvent
from mission_control.store.runs import Runs, Tasks
from mission_control.store.tool_calls import ToolCalls, ToolDefinitions
from mission_control.store.usage import TokenUsage

__all__ = ["Store"]


class Store:
    """Everything the operator and the sidecar keep in PostgreSQL.

    Open it with :meth:`open` (or :meth:`from_settings`); it checks the schema version first and
    refuses a database that needs ``mission-control migrate``.
    """

    def __init__(self, db: Database, *, audit_key: AuditKey | None = None) -> None:
        self.db = db
        self.journal = Journal(db)
        self.tool_calls = ToolCalls(db)
        self.tool_definitions = ToolDefinitions(db)
        self.llm = LlmExchanges(db)
        self.usage = TokenUsage(db)
        self.runs = Runs(db)
        self.tasks = Tasks(db)
        self.audit = Audit(db, key=audit_key)
        self.inventory = InventoryItems(db)
        self.notifications = Notifications(db)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        database_url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        wait_timeout: float = 10.0,
        audit_key: AuditKey | None = None,
    ) -> AsyncIterator[Store]:
        """Connect, check the schema (``SchemaTooOld`` if behind), and close the pool after.

        ``audit_key`` keys the audit chain (see :func:`~.audit_key.require_audit_key`).
        """
        async with Database.open(
            database_url, min_size=min_size, max_size=max_size, wait_timeout=wait_timeout
        ) as db:
            async with db.connection(action="check the schema version") as conn:
                await check_schema(conn)
            yield cls(db, audit_key=audit_key)

    @classmethod
    def from_settings(
        cls, settings: DatabaseSettings, *, audit_key: AuditKey | None = None
    ) -> AbstractAsyncContextManager[Store]:
        """:meth:`open` with the URL and pool sizes from the settings; no URL is a ConfigError."""
        return cls.open(
            settings.require_url(),
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            wait_timeout=settings.wait_timeout_seconds,
            audit_key=audit_key,
        )

    def follow(
        self, run_uid: str, *, after_seq: int = 0, idle_seconds: float | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[JournalEvent | None]]:
        """Follow a run's journal live; see :func:`~mission_control.store.follow.follow_run`."""
        return follow_run(
            database_url=self.db.url,
            journal=self.journal,
            run_uid=run_uid,
            after_seq=after_seq,
            idle_seconds=idle_seconds,
        )

    async def conversation(self, run_uid: str) -> Conversation:
        """The run's conversation so far and its open tool calls, for resuming it."""
        events = await self.journal.events_after(run_uid, 0)
        open_calls = await self.tool_calls.open_calls(run_uid)
        return build_conversation(run_uid=run_uid, events=events, open_calls=open_calls)
