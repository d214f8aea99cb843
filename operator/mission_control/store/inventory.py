"""Inventory tables (``hosts``, ``workloads``, ``services``): upserted per refresh, never deleted.

For each source that answered, its items are upserted (``last_seen`` = the refresh time, not
stale, not removed) and its stored items missing from the refresh are marked removed. A source
that failed keeps its rows as they were, marked stale, until it answers again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import get_args

from psycopg import sql
from psycopg.types.json import Jsonb

from mission_control.store.database import Connection, Database
from mission_control.store.errors import StoreRejected
from mission_control.store.records import (
    InventoryKind,
    InventoryObservation,
    InventoryRecord,
    InventoryRefresh,
    SnapshotCounts,
)

__all__ = ["InventoryItems"]

_KINDS: tuple[InventoryKind, ...] = get_args(InventoryKind)

_COLUMNS = sql.SQL(
    "id, source, kind, name, namespace, node, live, metadata, first_seen, last_seen, stale, "
    "removed, removed_at"
)

_UPSERT = """
INSERT INTO {table} (id, source, kind, name, namespace, node, live, metadata, first_seen,
                     last_seen, stale, removed, removed_at)
VALUES (%(id)s, %(source)s, %(kind)s, %(name)s, %(namespace)s, %(node)s, %(live)s,
        %(metadata)s, %(seen)s, %(seen)s, false, false, NULL)
ON CONFLICT (id) DO UPDATE SET
    source = excluded.source, kind = excluded.kind, name = excluded.name,
    namespace = excluded.namespace, node = excluded.node, live = excluded.live,
    metadata = excluded.metadata, last_seen = excluded.last_seen,
    stale = false, removed = false, removed_at = NULL
"""

_MARK_REMOVED = """
UPDATE {table} SET removed = true, removed_at = %(seen)s, stale = false
WHERE source = ANY(%(sources)s) AND NOT removed AND NOT (id = ANY(%(ids)s))
"""

_MARK_STALE = """
UPDATE {table} SET stale = true WHERE source = ANY(%(sources)s) AND NOT removed AND NOT stale
"""


class InventoryItems:
    """Stores merged inventory snapshots and reads items back."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def upsert_snapshot(
        self, snapshot: InventoryRefresh, *, seen_at: dt.datetime | None = None
    ) -> dict[InventoryKind, SnapshotCounts]:
        """Apply one refresh in one transaction; returns what changed per table."""
        seen = seen_at or dt.datetime.now(dt.UTC)
        counts: dict[InventoryKind, SnapshotCounts] = {}
        async with (
            self._db.connection(action="store the inventory") as conn,
            conn.transaction(),
        ):
            for kind in _KINDS:
                counts[kind] = await _apply(
                    conn=conn,
                    table=kind,
                    items=_items_of(snapshot, kind),
                    snapshot=snapshot,
                    seen=seen,
                )
        return counts

    async def items(
        self, kind: InventoryKind, *, include_removed: bool = False, source: str | None = None
    ) -> list[InventoryRecord]:
        """Items of one table ordered by id; removed ones only when asked."""
        query = sql.SQL(
            "SELECT {columns} FROM {table} WHERE (%(all)s OR NOT removed) "
            "AND (%(source)s::text IS NULL OR source = %(source)s) ORDER BY id"
        ).format(columns=_COLUMNS, table=sql.Identifier(kind))
        return await self._db.fetch_all(
            row=InventoryRecord,
            query=query,
            params={"all": include_removed, "source": source},
            action="read the inventory",
        )

    async def item(self, kind: InventoryKind, item_id: str) -> InventoryRecord | None:
        """One item by id (removed or not), or None."""
        query = sql.SQL("SELECT {columns} FROM {table} WHERE id = %s").format(
            columns=_COLUMNS, table=sql.Identifier(kind)
        )
        return await self._db.fetch_one(
            row=InventoryRecord, query=query, params=(item_id,), action="read the inventory"
        )


def _items_of(snapshot: InventoryRefresh, kind: InventoryKind) -> Sequence[InventoryObservation]:
    items: Sequence[InventoryObservation] = getattr(snapshot, kind)
    for item in items:
        if item.source not in snapshot.refreshed_sources:
            raise StoreRejected(
                f"inventory item {item.id} comes from source {item.source!r}, "
                "which the snapshot does not list as refreshed"
            )
    return items


async def _apply(
    *,
    conn: Connection,
    table: InventoryKind,
    items: Sequence[InventoryObservation],
    snapshot: InventoryRefresh,
    seen: dt.datetime,
) -> SnapshotCounts:
    name = sql.Identifier(table)
    if items:
        async with conn.cursor() as cursor:
            await cursor.executemany(
                sql.SQL(_UPSERT).format(table=name),
                [
                    {
                        "id": item.id,
                        "source": item.source,
                        "kind": item.kind,
                        "name": item.name,
                        "namespace": item.namespace,
                        "node": item.node,
                        "live": Jsonb(item.live),
                        "metadata": Jsonb(item.metadata),
                        "seen": seen,
                    }
                    for item in items
                ],
            )
    removed = await conn.execute(
        sql.SQL(_MARK_REMOVED).format(table=name),
        {
            "seen": seen,
            "sources": sorted(snapshot.refreshed_sources),
            "ids": [item.id for item in items],
        },
    )
    stale = await conn.execute(
        sql.SQL(_MARK_STALE).format(table=name), {"sources": sorted(snapshot.failed_sources)}
    )
    return SnapshotCounts(upserted=len(items), removed=removed.rowcount, stale=stale.rowcount)
