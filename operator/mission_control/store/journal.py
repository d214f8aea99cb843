"""The run journal: ``task_events`` rows with a per-run ``seq`` and a notification per event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg.types.json import Jsonb

from mission_control.store.database import Database
from mission_control.store.errors import RecordNotFound
from mission_control.store.records import JournalEvent

__all__ = ["EVENTS_CHANNEL", "Journal"]

#: The ``LISTEN`` channel; each payload is ``{"run_uid": ..., "seq": ...}``.
EVENTS_CHANNEL = "mc_task_events"

# One statement, one round trip. Incrementing the run's counter takes its row lock until
# commit, so concurrent appenders to one run queue up and every seq is used exactly once; a
# failed insert rolls the increment back. pg_notify is transactional: listeners hear about the
# event only once it is committed and readable.
_APPEND = """
WITH next AS (
    UPDATE task_runs SET last_seq = last_seq + 1 WHERE uid = %(run_uid)s RETURNING uid, last_seq
), added AS (
    INSERT INTO task_events (run_uid, seq, type, payload)
    SELECT uid, last_seq, %(type)s, %(payload)s FROM next
    RETURNING run_uid, seq, type, payload, created_at
)
SELECT run_uid, seq, type, payload, created_at,
       pg_notify(%(channel)s, json_build_object('run_uid', run_uid, 'seq', seq)::text) AS notified
FROM added
"""

_EVENTS_AFTER = """
SELECT run_uid, seq, type, payload, created_at FROM task_events
WHERE run_uid = %(run_uid)s AND seq > %(after)s
ORDER BY seq
LIMIT %(limit)s
"""


class Journal:
    """Appends events to a run's journal and reads them back in order."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(self, *, run_uid: str, type: str, payload: Mapping[str, Any]) -> JournalEvent:
        """Append one event; the run must exist in ``task_runs`` (see ``Runs.upsert_run``).

        Raises ``JournalUnavailable`` when PostgreSQL cannot be reached; nothing was written
        then, and the caller may try again.
        """
        async with self._db.connection(action="append to the journal") as conn:
            cursor = await conn.execute(
                _APPEND,
                {
                    "run_uid": run_uid,
                    "type": type,
                    "payload": Jsonb(dict(payload)),
                    "channel": EVENTS_CHANNEL,
                },
            )
            row = await cursor.fetchone()
        if row is None:
            raise RecordNotFound(f"cannot append to the journal of unknown run {run_uid}")
        run, seq, kind, stored, created_at, _ = row
        return JournalEvent(run_uid=run, seq=seq, type=kind, payload=stored, created_at=created_at)

    async def events_after(
        self, run_uid: str, after_seq: int = 0, *, limit: int | None = None
    ) -> list[JournalEvent]:
        """The run's events with ``seq > after_seq``, oldest first (at most ``limit``)."""
        return await self._db.fetch_all(
            row=JournalEvent,
            query=_EVENTS_AFTER,
            params={"run_uid": run_uid, "after": after_seq, "limit": limit},
            action="read the journal",
        )

    async def last_seq(self, run_uid: str) -> int:
        """The seq of the run's newest event (0 when it has none)."""
        value = await self._db.fetch_value(
            query="SELECT last_seq FROM task_runs WHERE uid = %s",
            params=(run_uid,),
            action="read the journal",
        )
        if value is None:
            raise RecordNotFound(f"unknown run {run_uid}")
        return int(value)
