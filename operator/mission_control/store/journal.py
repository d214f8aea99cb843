"""The run journal: ``task_events`` rows with a per-run ``seq`` and a notification per event.

An append may carry an ``event_id`` chosen by the caller (unique per run). A write whose
commit succeeded but whose acknowledgement was lost (the connection broke, the caller got
``JournalUnavailable``) is then safe to retry: the retry returns the event already stored
instead of writing it a second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg import errors as pgerrors
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from mission_control.store.database import Connection, Database
from mission_control.store.errors import JournalUnavailable, RecordNotFound, StoreRejected
from mission_control.store.json_values import encode
from mission_control.store.records import JournalEvent

__all__ = ["EVENTS_CHANNEL", "Journal"]

#: The ``LISTEN`` channel; each payload is ``{"run_uid": ..., "seq": ...}``.
EVENTS_CHANNEL = "mc_task_events"

_EVENT_ID_INDEX = "task_events_event_id"

# One statement, one round trip. Incrementing the run's counter takes its row lock until
# commit, so concurrent appenders to one run queue up and every seq is used exactly once; a
# failed insert rolls the increment back. pg_notify is transactional: listeners hear about the
# event only once it is committed and readable. An event already stored under the same
# event_id is returned as it is (``added`` false), without a new seq or a new notification.
# The payload is not read back: when ``same`` holds, the stored one equals the one given.
_APPEND = """
WITH existing AS (
    SELECT run_uid, seq, type, created_at, event_id,
           type = %(type)s AND payload = %(payload)s AS same
    FROM task_events
    WHERE %(event_id)s::text IS NOT NULL AND run_uid = %(run_uid)s AND event_id = %(event_id)s
), next AS (
    UPDATE task_runs SET last_seq = last_seq + 1
    WHERE uid = %(run_uid)s AND NOT EXISTS (SELECT FROM existing)
    RETURNING uid, last_seq
), added AS (
    INSERT INTO task_events (run_uid, seq, type, payload, event_id)
    SELECT uid, last_seq, %(type)s, %(payload)s, %(event_id)s FROM next
    RETURNING run_uid, seq, type, created_at, event_id
)
SELECT added.*, true AS same
FROM added,
     LATERAL (SELECT pg_notify(%(channel)s,
                               json_build_object('run_uid', run_uid, 'seq', seq)::text)) AS notify
UNION ALL
SELECT * FROM existing
"""

_EVENTS_AFTER = """
SELECT run_uid, seq, type, payload, created_at, event_id FROM task_events
WHERE run_uid = %(run_uid)s AND seq > %(after)s
ORDER BY seq
LIMIT %(limit)s
"""


class Journal:
    """Appends events to a run's journal and reads them back in order."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(
        self,
        *,
        run_uid: str,
        type: str,
        payload: Mapping[str, Any],
        event_id: str | None = None,
    ) -> JournalEvent:
        """Append one event; the run must exist in ``task_runs`` (see ``Runs.upsert_run``).

        Raises ``JournalUnavailable`` when PostgreSQL cannot be reached or the connection broke:
        the event may or may not be stored. Retry with the same ``event_id`` and it is stored
        exactly once: when it is already there, the stored event is returned unchanged.
        Reusing an ``event_id`` for a different type or payload is refused (``StoreRejected``).
        """
        # Encoded once here: the event returned carries the payload as stored (non-finite
        # floats as strings), without reading it back.
        text, stored = encode(payload)
        params = {
            "run_uid": run_uid,
            "type": type,
            "payload": Jsonb(stored, dumps=lambda _: text),
            "event_id": event_id,
            "channel": EVENTS_CHANNEL,
        }
        async with self._db.connection(action="append to the journal") as conn:
            row = await _append_row(conn=conn, params=params, keyed=event_id is not None)
        if row is None:
            raise RecordNotFound(f"cannot append to the journal of unknown run {run_uid}")
        run, seq, kind, created_at, stored_id, same = row
        if not same:
            earlier = await self._db.fetch_value(
                query="SELECT payload FROM task_events WHERE run_uid = %s AND seq = %s",
                params=(run_uid, seq),
                action="read the journal",
            )
            raise StoreRejected(
                f"event id {event_id!r} of run {run_uid} is already used by event {seq} "
                f"with other content (stored: {kind} {_short(earlier)}; given: {type} "
                f"{_short(stored)}); give each event its own id"
            )
        return JournalEvent(
            run_uid=run,
            seq=seq,
            type=kind,
            payload=stored,
            created_at=created_at,
            event_id=stored_id,
        )

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


def _short(payload: Any) -> str:
    text = str(payload)
    return text if len(text) <= 80 else text[:77] + "..."


async def _append_row(
    *, conn: Connection, params: dict[str, Any], keyed: bool
) -> tuple[Any, ...] | None:
    try:
        return await (await conn.execute(_APPEND, params)).fetchone()
    except pgerrors.UniqueViolation as exc:
        # The first attempt of a retried append was still committing when the retry looked
        # for it: the retry queued behind its row lock, then collided with its event_id.
        # Looking again, with a new snapshot, finds it.
        if not keyed or exc.diag.constraint_name != _EVENT_ID_INDEX:
            raise
        if conn.info.transaction_status != TransactionStatus.IDLE:
            # Part of a larger transaction, which the error aborted: the whole of it is
            # tried again by the caller, and then finds the event.
            raise JournalUnavailable(
                "could not append to the journal: an earlier attempt of the same write was "
                "still committing; try again",
                retry_after=0.1,
            ) from None
    return await (await conn.execute(_APPEND, params)).fetchone()
