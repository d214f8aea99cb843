"""Inventory snapshots: upserted, stale when a source fails, removed (never deleted) when gone."""

from __future__ import annotations

import datetime as dt

import pytest

from mission_control.store import (
    InventoryObservation,
    InventoryRefresh,
    SnapshotCounts,
    Store,
    StoreRejected,
)

pytestmark = pytest.mark.postgres

T1 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
T2 = T1 + dt.timedelta(minutes=1)
T3 = T2 + dt.timedelta(minutes=1)


def node(name: str, *, ready: bool = True) -> InventoryObservation:
    return InventoryObservation(
        id=f"k8s:node:{name}", source="kubernetes", kind="node", name=name, live={"ready": ready}
    )


def lxc(vmid: int) -> InventoryObservation:
    return InventoryObservation(
        id=f"proxmox:lxc:pve1:{vmid}",
        source="proxmox",
        kind="lxc",
        name=f"ct{vmid}",
        node="pve1",
        live={"status": "running"},
        metadata={"owner": "media"},
    )


async def test_a_snapshot_stores_every_item_as_seen(store: Store) -> None:
    counts = await store.inventory.upsert_snapshot(
        InventoryRefresh(
            hosts=[node("a"), node("b")],
            workloads=[lxc(101)],
            refreshed_sources=frozenset({"kubernetes", "proxmox"}),
        ),
        seen_at=T1,
    )

    hosts = await store.inventory.items("hosts")
    workload = await store.inventory.item("workloads", "proxmox:lxc:pve1:101")
    assert counts["hosts"].upserted == 2
    assert [(h.id, h.first_seen, h.last_seen, h.stale, h.removed) for h in hosts] == [
        ("k8s:node:a", T1, T1, False, False),
        ("k8s:node:b", T1, T1, False, False),
    ]
    assert workload is not None
    assert (workload.node, workload.live, workload.metadata) == (
        "pve1",
        {"status": "running"},
        {"owner": "media"},
    )


async def test_an_item_gone_from_its_source_is_marked_removed_not_deleted(store: Store) -> None:
    both = frozenset({"kubernetes", "proxmox"})
    await store.inventory.upsert_snapshot(
        InventoryRefresh(
            hosts=[node("a"), node("b")], workloads=[lxc(101)], refreshed_sources=both
        ),
        seen_at=T1,
    )

    counts = await store.inventory.upsert_snapshot(
        InventoryRefresh(
            hosts=[node("a", ready=False)], workloads=[lxc(101)], refreshed_sources=both
        ),
        seen_at=T2,
    )

    assert counts["hosts"].removed == 1
    assert [h.id for h in await store.inventory.items("hosts")] == ["k8s:node:a"]
    removed = await store.inventory.item("hosts", "k8s:node:b")
    assert removed is not None
    assert (removed.removed, removed.removed_at, removed.last_seen) == (True, T2, T1)
    kept = await store.inventory.item("hosts", "k8s:node:a")
    assert kept is not None
    assert (kept.first_seen, kept.last_seen, kept.live) == (T1, T2, {"ready": False})


async def test_a_failed_source_keeps_its_last_data_marked_stale(store: Store) -> None:
    await store.inventory.upsert_snapshot(
        InventoryRefresh(
            hosts=[node("a")],
            workloads=[lxc(101)],
            refreshed_sources=frozenset({"kubernetes", "proxmox"}),
        ),
        seen_at=T1,
    )

    counts = await store.inventory.upsert_snapshot(
        InventoryRefresh(
            hosts=[node("a")],
            refreshed_sources=frozenset({"kubernetes"}),
            failed_sources=frozenset({"proxmox"}),
        ),
        seen_at=T2,
    )

    assert counts["workloads"] == SnapshotCounts(upserted=0, removed=0, stale=1)
    workload = await store.inventory.item("workloads", "proxmox:lxc:pve1:101")
    assert workload is not None
    assert (workload.stale, workload.removed, workload.last_seen) == (True, False, T1)
    host = await store.inventory.item("hosts", "k8s:node:a")
    assert host is not None
    assert (host.stale, host.last_seen) == (False, T2)


async def test_a_returning_item_is_current_again(store: Store) -> None:
    kubernetes = frozenset({"kubernetes"})
    await store.inventory.upsert_snapshot(
        InventoryRefresh(hosts=[node("a")], refreshed_sources=kubernetes), seen_at=T1
    )
    await store.inventory.upsert_snapshot(
        InventoryRefresh(hosts=[], refreshed_sources=kubernetes), seen_at=T2
    )

    await store.inventory.upsert_snapshot(
        InventoryRefresh(hosts=[node("a")], refreshed_sources=kubernetes), seen_at=T3
    )

    host = await store.inventory.item("hosts", "k8s:node:a")
    assert host is not None
    assert (host.removed, host.removed_at, host.first_seen, host.last_seen) == (False, None, T1, T3)
    assert len(await store.inventory.items("hosts", include_removed=True)) == 1


async def test_items_from_a_source_not_listed_as_refreshed_are_refused(store: Store) -> None:
    with pytest.raises(StoreRejected, match="does not list as refreshed"):
        await store.inventory.upsert_snapshot(
            InventoryRefresh(hosts=[node("a")], refreshed_sources=frozenset({"proxmox"}))
        )

    assert await store.inventory.items("hosts", include_removed=True) == []
