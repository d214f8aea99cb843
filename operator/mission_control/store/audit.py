"""The audit log: append-only (enforced by triggers and grants) and hash-chained (computed here).

Writers serialise on a transaction-scoped advisory lock, take the next id and the chain head
under it, and insert before releasing it, so chain order is id order and has no forks no
matter how many processes write at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from mission_control.store.audit_chain import (
    GENESIS_HASH,
    ChainChecker,
    audit_details,
    entry_hash,
)
from mission_control.store.audit_key import AuditKey
from mission_control.store.database import Connection, Database
from mission_control.store.errors import StoreError, StoreRejected
from mission_control.store.records import ActorKind, AuditEntry, ChainHead, VerifyResult

__all__ = ["Audit"]

# Arbitrary constant shared by every audit writer ("mcaudit!" in ASCII).
_CHAIN_LOCK_KEY = 0x6D63617564697421
_VERIFY_BATCH = 1000

_COLUMNS = """id, actor, actor_kind, action, target, decision, outcome, run_uid, namespace,
details, created_at, prev_hash, hash"""

# Under the lock: the chain head, the next id, and the details and time exactly as they will
# read back from the table (jsonb normalises numbers and key order), so the hash computed now
# is the hash ``verify`` recomputes later.
# The entry already stored under the same key, if any, comes back instead (its id; no new id
# is taken then).
_PREPARE = """
WITH earlier AS (
    SELECT id FROM audit_entries
    WHERE %(entry_key)s::text IS NOT NULL AND run_uid = %(run_uid)s AND entry_key = %(entry_key)s
)
SELECT coalesce((SELECT hash FROM audit_entries ORDER BY id DESC LIMIT 1), %(genesis)s),
       CASE WHEN EXISTS (SELECT FROM earlier) THEN NULL
            ELSE nextval(pg_get_serial_sequence('audit_entries', 'id')) END,
       %(details)s::jsonb,
       clock_timestamp(),
       (SELECT id FROM earlier)
"""

_INSERT = f"""
INSERT INTO audit_entries ({_COLUMNS}, entry_key)
VALUES (%(id)s, %(actor)s, %(actor_kind)s, %(action)s, %(target)s, %(decision)s, %(outcome)s,
        %(run_uid)s, %(namespace)s, %(details)s, %(created_at)s, %(prev_hash)s, %(hash)s,
        %(entry_key)s)
"""


class Audit:
    """Appends to and verifies the tamper-evident audit trail.

    With a ``key`` every hash is keyed (HMAC-SHA-256); verify with the same key.
    """

    def __init__(self, db: Database, *, key: AuditKey | None = None) -> None:
        self._db = db
        self._key = key

    async def append(
        self,
        *,
        actor: str,
        actor_kind: ActorKind,
        action: str,
        target: str,
        decision: str = "",
        outcome: str = "",
        run_uid: str | None = None,
        namespace: str = "",
        details: Mapping[str, Any] | None = None,
        entry_key: str | None = None,
    ) -> AuditEntry:
        """Add one entry at the head of the chain and return it as stored.

        With an ``entry_key`` (unique per run) the append is safe to retry after a lost
        acknowledgement: an entry already stored under the key is returned as it is, and the
        chain gets no second one. A key reused for another action is refused
        (``StoreRejected``). The key is not hashed; it only finds the entry.
        """
        if entry_key is not None and run_uid is None:
            raise ValueError("an audit entry with an entry_key needs a run_uid")
        async with self._db.transaction(action="append to the audit log") as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_CHAIN_LOCK_KEY,))
            cursor = await conn.execute(
                _PREPARE,
                {
                    "genesis": GENESIS_HASH,
                    "details": Jsonb(audit_details(dict(details or {}))),
                    "entry_key": entry_key,
                    "run_uid": run_uid,
                },
            )
            head = await cursor.fetchone()
            if head is None:
                raise StoreError("could not append to the audit log: no chain head row")
            prev_hash, next_id, stored_details, now, earlier_id = head
            if earlier_id is not None:
                return await self._earlier(conn, entry_id=earlier_id, action=action, key=entry_key)
            unsigned = AuditEntry(
                id=next_id,
                actor=actor,
                actor_kind=actor_kind,
                action=action,
                target=target,
                decision=decision,
                outcome=outcome,
                run_uid=run_uid,
                namespace=namespace,
                details=stored_details,
                created_at=now,
                prev_hash=prev_hash,
                hash="",
            )
            entry = dataclasses.replace(unsigned, hash=entry_hash(unsigned, self._key))
            params = dataclasses.asdict(entry)
            params["details"] = Jsonb(entry.details)
            params["entry_key"] = entry_key
            await conn.execute(_INSERT, params)
        return entry

    @staticmethod
    async def _earlier(
        conn: Connection, *, entry_id: int, action: str, key: str | None
    ) -> AuditEntry:
        cursor = conn.cursor(row_factory=class_row(AuditEntry))
        await cursor.execute(f"SELECT {_COLUMNS} FROM audit_entries WHERE id = %s", (entry_id,))
        found = await cursor.fetchone()
        if found is None:  # the row was there under the lock a moment ago; append-only
            raise StoreError(f"could not append to the audit log: entry {entry_id} vanished")
        if found.action != action:
            raise StoreRejected(
                f"audit entry key {key!r} of run {found.run_uid} is already used by entry "
                f"{entry_id} ({found.action}; given: {action}); give each entry its own key"
            )
        return found

    async def entries(
        self, *, after_id: int = 0, run_uid: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Entries with ``id > after_id`` in chain order, optionally only one run's."""
        return await self._db.fetch_all(
            row=AuditEntry,
            query=f"SELECT {_COLUMNS} FROM audit_entries WHERE id > %(after)s "
            "AND (%(run_uid)s::text IS NULL OR run_uid = %(run_uid)s) ORDER BY id LIMIT %(limit)s",
            params={"after": after_id, "run_uid": run_uid, "limit": limit},
            action="read the audit log",
        )

    async def head(self) -> ChainHead | None:
        """The newest entry's id and hash (None while the log is empty), for a checkpoint."""
        return await self._db.fetch_one(
            row=ChainHead,
            query="SELECT id AS entry_id, hash FROM audit_entries ORDER BY id DESC LIMIT 1",
            action="read the audit chain head",
        )

    async def verify(self, *, checkpoint: ChainHead | None = None) -> VerifyResult:
        """Walk the whole chain in order and report the first broken link, if any.

        With a ``checkpoint`` taken earlier, also report a chain that was rewritten up to the
        checkpointed entry or lost entries at its tail (``truncated``).
        """
        checker = ChainChecker(key=self._key, checkpoint=checkpoint)
        after = 0
        while True:
            batch = await self.entries(after_id=after, limit=_VERIFY_BATCH)
            if not batch or not checker.feed(batch):
                return checker.result()
            after = batch[-1].id
