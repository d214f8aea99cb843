"""One run's writes to the store: journal events and audit entries, each keyed for retries.

Every journal event carries an ``event_id`` derived from what it records (the step, the tool
call), so a step that is retried after a lost acknowledgement or a restart writes each event
once. Events that add to the conversation carry the messages they add under
:data:`mission_control.store.MESSAGES_KEY`, so the conversation can be rebuilt from the journal.

While PostgreSQL cannot be reached (:class:`~mission_control.store.JournalUnavailable`) the
run waits with reason ``WaitingForJournal`` rather than act unrecorded, and carries on when it
is back: :meth:`RunRecorder.durably` retries the write, which is safe because every write the
loop makes is keyed (journal events by their ``event_id``, audit entries by their ``key``).

Writes that need not be durable on their own are *held* (:meth:`RunRecorder.hold`, the
``held=True`` of :meth:`~RunRecorder.journal` and :meth:`~RunRecorder.audit`) and committed in
one transaction with the next write that is, in the order they were made: a step then costs a
few commits instead of one per row. The loop only holds a write when the next durable write
follows before anything leaves the operator (an LLM request, a tool call, a status patch), so
the write-ahead order stays: a tool call's intent is committed before the call, its result
after.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mission_control.agent.status import RunStatus
from mission_control.llm.messages import Message, dump_messages
from mission_control.store import MESSAGES_KEY, JournalUnavailable, Store
from mission_control.store.records import ActorKind
from mission_control.telemetry import OperatorMetrics

__all__ = ["OPERATOR", "RunRecorder"]

#: The actor of decisions the operator makes itself.
OPERATOR = "mission-control"
#: Longest pause between two attempts to reach PostgreSQL, seconds.
MAX_PAUSE_SECONDS = 30.0
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class RunRecorder:
    """Writes one run's journal and audit entries."""

    store: Store
    run_uid: str
    namespace: str
    name: str
    status: RunStatus
    metrics: OperatorMetrics | None = None
    first_pause_seconds: float = 0.5
    #: Writes waiting for the next durable one; audit entries apart, to be written last (the
    #: audit chain's lock is then held for the shortest time).
    _held: list[Callable[[], Awaitable[object]]] = field(
        default_factory=list, init=False, repr=False
    )
    _held_audit: list[Callable[[], Awaitable[object]]] = field(
        default_factory=list, init=False, repr=False
    )

    def hold(self, write: Callable[[], Awaitable[object]]) -> None:
        """Commit ``write()`` with the next :meth:`durably` write, in the same transaction."""
        self._held.append(write)

    async def durably(self, write: Callable[[], Awaitable[T]]) -> T:
        """``write()``, tried again while PostgreSQL is unreachable (the run waits meanwhile).

        Held writes go first, in one transaction with it; on a retry all of them are tried
        again (each is keyed, so what committed is not written twice).
        """
        held, audits = list(self._held), list(self._held_audit)
        if not held and not audits:
            return await self._retried(write)
        store = self.store

        async def together() -> T:
            async with store.db.transaction(action="record the run's step"):
                for earlier in held:
                    await earlier()
                result = await write()
                for entry in audits:
                    await entry()
                return result

        result = await self._retried(together)
        del self._held[: len(held)]
        del self._held_audit[: len(audits)]
        return result

    async def _retried(self, write: Callable[[], Awaitable[T]]) -> T:
        pause = self.first_pause_seconds
        before = self.status.reason
        waiting = False
        metrics = self.metrics
        while True:
            started = time.monotonic()
            try:
                result = await write()
            except JournalUnavailable as exc:
                if metrics is not None:
                    metrics.journal_failure()
                if not waiting:
                    waiting = True
                    await self.status.report(
                        "WaitingForJournal",
                        f"waiting for PostgreSQL, the run's journal: {exc}; the run goes on "
                        "when it answers",
                    )
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE_SECONDS)
                continue
            if metrics is not None:
                metrics.journal_write(time.monotonic() - started)
            if waiting:
                await self.status.report(before or "Running", "PostgreSQL answers again")
                # A run that had not started yet still gets its Started Event.
                self.status.reason = before
            return result

    async def journal(
        self,
        kind: str,
        *,
        event_id: str,
        payload: Mapping[str, Any] | None = None,
        messages: Sequence[Message] = (),
        held: bool = False,
    ) -> None:
        """Append one event; ``messages`` are what it adds to the conversation.

        ``held``: commit it with the next durable write instead of now (see the module doc).
        """
        body = dict(payload or {})
        if messages:
            body[MESSAGES_KEY] = dump_messages(messages)

        def write() -> Awaitable[object]:
            return self.store.journal.append(
                run_uid=self.run_uid, type=kind, payload=body, event_id=event_id
            )

        if held:
            self.hold(write)
        else:
            await self.durably(write)

    async def audit(
        self,
        action: str,
        *,
        key: str,
        decision: str = "",
        outcome: str = "",
        actor: str = OPERATOR,
        actor_kind: ActorKind = "operator",
        target: str = "",
        details: Mapping[str, Any] | None = None,
        held: bool = False,
    ) -> None:
        """One audit entry about this run (``target`` defaults to the TaskRun).

        ``key`` names the entry within the run (as an event id names a journal event), so a
        retried or replayed write adds it once. ``held``: commit it with the next durable
        write instead of now (see the module doc).
        """

        def write() -> Awaitable[object]:
            return self.store.audit.append(
                actor=actor,
                actor_kind=actor_kind,
                action=action,
                target=target or f"taskrun {self.namespace}/{self.name}",
                decision=decision,
                outcome=outcome,
                run_uid=self.run_uid,
                namespace=self.namespace,
                details=details,
                entry_key=key,
            )

        if held:
            self._held_audit.append(write)
        else:
            await self.durably(write)
