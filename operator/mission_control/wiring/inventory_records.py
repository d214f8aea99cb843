"""Maps the merged inventory onto the store's records, so each refresh can be persisted.

The inventory (pure merge) and the store (PostgreSQL) know nothing of each other; this is the
one place that knows both. Items of a source that failed are left out and the source is named
as failed, so the store keeps their last good rows and marks them stale.
"""

from __future__ import annotations

from mission_control import inventory, store
from mission_control.inventory.model import InventoryItem

__all__ = ["snapshot_for_store"]


def _record(item: InventoryItem) -> store.InventoryObservation:
    node = item.live.get("node")
    return store.InventoryObservation(
        id=item.id,
        source=item.source,
        kind=item.type,
        name=item.name,
        namespace=item.namespace or "",
        node=node if isinstance(node, str) else "",
        live=dict(item.live),
        metadata={
            "labels": dict(item.labels),
            "owner": item.owner,
            "description": item.description,
            "tags": list(item.tags),
            "links": [{"title": link.title, "url": link.url} for link in item.links],
            "services": list(item.services),
            "members": list(item.members),
        },
    )


def snapshot_for_store(snapshot: inventory.InventorySnapshot) -> store.InventoryRefresh:
    """The store's view of one merged snapshot: fresh items, refreshed and failed sources."""
    failed = frozenset(status.source for status in snapshot.sources if status.stale)
    fresh = [item for item in snapshot.items if item.source not in failed and not item.stale]
    refreshed = frozenset(status.source for status in snapshot.sources if not status.stale)
    refreshed |= frozenset(item.source for item in fresh)

    def records(kind: str) -> tuple[store.InventoryObservation, ...]:
        return tuple(_record(item) for item in fresh if item.kind == kind)

    return store.InventoryRefresh(
        hosts=records("host"),
        workloads=records("workload"),
        services=records("service"),
        refreshed_sources=refreshed,
        failed_sources=failed,
    )
