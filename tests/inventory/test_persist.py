"""Merged inventory snapshots persist to PostgreSQL with history: stale and removed, not lost."""

from __future__ import annotations

import dataclasses

import pytest

from mission_control.inventory.merge import merge
from mission_control.inventory.metadata import InventoryMetadata
from mission_control.store import Store
from mission_control.wiring.inventory_records import snapshot_for_store
from tests.inventory.test_merge import NODE, NOW, WEB, states

pytestmark = pytest.mark.postgres

META = InventoryMetadata.model_validate(
    {"items": {"proxmox:lxc:pve:101": {"owner": "alice", "tags": ["dns"]}}}
)


async def test_a_merged_snapshot_is_stored_with_its_metadata(store: Store) -> None:
    await store.inventory.upsert_snapshot(
        snapshot_for_store(merge(states=states(), metadata=META, now=NOW))
    )
    dns = await store.inventory.item("workloads", "proxmox:lxc:pve:101")
    assert dns is not None
    assert (dns.source, dns.kind, dns.name) == ("proxmox", "lxc", "dns")
    assert dns.metadata["owner"] == "alice"
    assert dns.metadata["tags"] == ["dns"]
    assert dns.live == {"status": "running"}
    assert not dns.stale
    assert not dns.removed
    hosts = await store.inventory.items("hosts")
    assert [host.id for host in hosts] == [NODE.id]


async def test_a_failed_source_keeps_its_rows_marked_stale(store: Store) -> None:
    await store.inventory.upsert_snapshot(
        snapshot_for_store(merge(states=states(), metadata=META, now=NOW))
    )
    failed = merge(states=states(proxmox_error="Proxmox VE unreachable"), metadata=META, now=NOW)
    await store.inventory.upsert_snapshot(snapshot_for_store(failed))
    dns = await store.inventory.item("workloads", "proxmox:lxc:pve:101")
    assert dns is not None
    assert dns.stale
    assert not dns.removed
    assert dns.metadata["owner"] == "alice"
    web = await store.inventory.item("workloads", WEB.id)
    assert web is not None
    assert not web.stale


async def test_an_item_gone_from_its_source_is_marked_removed(store: Store) -> None:
    await store.inventory.upsert_snapshot(
        snapshot_for_store(merge(states=states(), metadata=META, now=NOW))
    )
    without_web = [
        dataclasses.replace(state, observations=(NODE,)) if state.source == "kubernetes" else state
        for state in states()
    ]
    await store.inventory.upsert_snapshot(
        snapshot_for_store(merge(states=without_web, metadata=META, now=NOW))
    )
    web = await store.inventory.item("workloads", WEB.id)
    assert web is not None
    assert web.removed
    node = await store.inventory.item("hosts", NODE.id)
    assert node is not None
    assert not node.removed
