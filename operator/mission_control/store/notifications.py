"""``notifications_sent``: which transitions of which runs have been notified.

A notification is claimed before it is sent: :meth:`Notifications.claim` is True for exactly
one caller per (run, transition, held call), across operator restarts, so a message goes out at
most once. The receivers' URLs are never stored.
"""

from __future__ import annotations

from typing import Literal

from mission_control.store.database import Database

__all__ = ["NotificationOutcome", "Notifications"]

NotificationOutcome = Literal["sent", "failed", "partial"]

_CLAIM = """
INSERT INTO notifications_sent (run_uid, transition, tool_call_id, namespace, name)
VALUES (%(run_uid)s, %(transition)s, %(tool_call_id)s, %(namespace)s, %(name)s)
ON CONFLICT (run_uid, transition, tool_call_id) DO NOTHING
RETURNING 1
"""
_FINISH = """
UPDATE notifications_sent SET outcome = %(outcome)s, receivers = %(receivers)s,
    finished_at = now()
WHERE run_uid = %(run_uid)s AND transition = %(transition)s AND tool_call_id = %(tool_call_id)s
"""


class Notifications:
    """The record of notifications sent, keyed by run uid, transition and tool call id."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(
        self, *, run_uid: str, transition: str, tool_call_id: str, namespace: str, name: str
    ) -> bool:
        """Claim the notification; False when it was claimed before (sent, or being sent)."""
        claimed = await self._db.fetch_value(
            query=_CLAIM,
            params={
                "run_uid": run_uid,
                "transition": transition,
                "tool_call_id": tool_call_id,
                "namespace": namespace,
                "name": name,
            },
            action="claim a notification",
        )
        return claimed is not None

    async def finish(
        self,
        *,
        run_uid: str,
        transition: str,
        tool_call_id: str,
        outcome: NotificationOutcome,
        receivers: int,
    ) -> None:
        """Record what became of a claimed notification."""
        await self._db.execute(
            query=_FINISH,
            params={
                "run_uid": run_uid,
                "transition": transition,
                "tool_call_id": tool_call_id,
                "outcome": outcome,
                "receivers": receivers,
            },
            action="record a notification's outcome",
        )

    async def outcome(self, *, run_uid: str, transition: str, tool_call_id: str = "") -> str | None:
        """The recorded outcome (``pending`` while it is being sent), None if never claimed."""
        value = await self._db.fetch_value(
            query="SELECT outcome FROM notifications_sent "
            "WHERE run_uid = %s AND transition = %s AND tool_call_id = %s",
            params=(run_uid, transition, tool_call_id),
            action="read a notification's outcome",
        )
        return None if value is None else str(value)
