"""One run's writes to the store: journal events and audit entries, each keyed for retries.

Every journal event carries an ``event_id`` derived from what it records (the step, the tool
call), so a step that is retried after a lost acknowledgement or a restart writes each event
once. Events that add to the conversation carry the messages they add under
:data:`mission_control.store.MESSAGES_KEY`, so the conversation can be rebuilt from the journal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mission_control.llm.messages import Message, dump_messages
from mission_control.store import MESSAGES_KEY, Store
from mission_control.store.records import ActorKind

__all__ = ["OPERATOR", "RunRecorder"]

#: The actor of decisions the operator makes itself.
OPERATOR = "mission-control"


@dataclass(frozen=True, kw_only=True)
class RunRecorder:
    """Writes one run's journal and audit entries."""

    store: Store
    run_uid: str
    namespace: str
    name: str

    async def journal(
        self,
        kind: str,
        *,
        event_id: str,
        payload: Mapping[str, Any] | None = None,
        messages: Sequence[Message] = (),
    ) -> None:
        """Append one event; ``messages`` are what it adds to the conversation."""
        body = dict(payload or {})
        if messages:
            body[MESSAGES_KEY] = dump_messages(messages)
        await self.store.journal.append(
            run_uid=self.run_uid, type=kind, payload=body, event_id=event_id
        )

    async def audit(
        self,
        action: str,
        *,
        decision: str = "",
        outcome: str = "",
        actor: str = OPERATOR,
        actor_kind: ActorKind = "operator",
        target: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """One audit entry about this run (``target`` defaults to the TaskRun)."""
        await self.store.audit.append(
            actor=actor,
            actor_kind=actor_kind,
            action=action,
            target=target or f"taskrun {self.namespace}/{self.name}",
            decision=decision,
            outcome=outcome,
            run_uid=self.run_uid,
            namespace=self.namespace,
            details=details,
        )
