"""The pure merge: ids, metadata, service membership, staleness, enrichment."""

from __future__ import annotations

import datetime as dt

from mission_control.inventory.merge import merge
from mission_control.inventory.metadata import InventoryMetadata
from mission_control.inventory.model import Enrichment, Observation, SourceState

NOW = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.UTC)
EARLIER = NOW - dt.timedelta(minutes=5)

NODE = Observation(
    id="k8s:node:worker-1",
    kind="host",
    type="node",
    name="worker-1",
    source="kubernetes",
    live={"status": "Ready"},
    addresses=("10.0.0.11",),
)
WEB = Observation(
    id="k8s:deployment:media:web",
    kind="workload",
    type="deployment",
    name="web",
    source="kubernetes",
    namespace="media",
    labels={"app.kubernetes.io/part-of": "media", "app.kubernetes.io/instance": "media"},
    live={"status": "Ready"},
)
DNS = Observation(
    id="proxmox:lxc:pve:101",
    kind="workload",
    type="lxc",
    name="dns",
    source="proxmox",
    live={"status": "running"},
)
APP = Observation(
    id="argocd:app:media", kind="service", type="application", name="media", source="argocd"
)


def metadata(raw: dict[str, object]) -> InventoryMetadata:
    return InventoryMetadata.model_validate(raw)


def states(*, proxmox_error: str | None = None) -> list[SourceState]:
    return [
        SourceState(source="kubernetes", observations=(WEB, NODE), last_success=NOW),
        SourceState(
            source="proxmox",
            observations=(DNS,),
            last_success=EARLIER,
            last_attempt=NOW,
            error=proxmox_error,
        ),
        SourceState(source="argocd", observations=(APP,), last_success=NOW),
    ]


def test_items_are_split_by_kind_and_sorted_by_id() -> None:
    snapshot = merge(states=states(), metadata=InventoryMetadata(), now=NOW)
    assert [i.id for i in snapshot.hosts] == ["k8s:node:worker-1"]
    assert [i.id for i in snapshot.workloads] == ["k8s:deployment:media:web", "proxmox:lxc:pve:101"]
    assert [i.id for i in snapshot.services] == ["argocd:app:media"]


def test_last_seen_is_the_source_last_success() -> None:
    snapshot = merge(states=states(), metadata=InventoryMetadata(), now=NOW)
    dns = snapshot.get("proxmox:lxc:pve:101")
    assert dns is not None
    assert dns.last_seen == EARLIER
    assert dns.stale is False


def test_a_failed_source_keeps_its_items_marked_stale() -> None:
    snapshot = merge(
        states=states(proxmox_error="Proxmox VE at pve:8006 is unreachable"),
        metadata=InventoryMetadata(),
        now=NOW,
    )
    dns = snapshot.get("proxmox:lxc:pve:101")
    assert dns is not None
    assert dns.stale is True
    assert dns.last_seen == EARLIER
    assert dns.live == {"status": "running"}
    web = snapshot.get("k8s:deployment:media:web")
    assert web is not None
    assert web.stale is False
    [proxmox] = [s for s in snapshot.sources if s.source == "proxmox"]
    assert proxmox.stale is True
    assert proxmox.error == "Proxmox VE at pve:8006 is unreachable"


def test_metadata_is_attached_by_id() -> None:
    meta = metadata(
        {
            "items": {
                "proxmox:lxc:pve:101": {
                    "owner": "alice",
                    "description": "Pi-hole",
                    "tags": ["dns", "infra"],
                    "links": [{"title": "Admin", "url": "http://dns.lan/admin"}],
                }
            }
        }
    )
    dns = merge(states=states(), metadata=meta, now=NOW).get("proxmox:lxc:pve:101")
    assert dns is not None
    assert (dns.owner, dns.description, dns.tags) == ("alice", "Pi-hole", ("dns", "infra"))
    assert [(link.title, link.url) for link in dns.links] == [("Admin", "http://dns.lan/admin")]


def test_services_gather_members_by_id_glob_and_by_label_selector() -> None:
    meta = metadata(
        {
            "services": {
                "media": {"owner": "bob", "selector": {"app.kubernetes.io/part-of": "media"}},
                "network": {"members": ["proxmox:lxc:*:101", "k8s:node:*"], "tags": ["core"]},
            }
        }
    )
    snapshot = merge(states=states(), metadata=meta, now=NOW)
    media = snapshot.get("service:media")
    network = snapshot.get("service:network")
    assert media is not None
    assert network is not None
    assert media.members == ("k8s:deployment:media:web",)
    assert media.owner == "bob"
    assert media.source == "metadata"
    assert network.members == ("k8s:node:worker-1", "proxmox:lxc:pve:101")
    assert network.tags == ("core",)
    dns = snapshot.get("proxmox:lxc:pve:101")
    assert dns is not None
    assert dns.services == ("service:network",)


def test_argocd_applications_own_workloads_with_their_instance_label() -> None:
    snapshot = merge(states=states(), metadata=InventoryMetadata(), now=NOW)
    app = snapshot.get("argocd:app:media")
    web = snapshot.get("k8s:deployment:media:web")
    assert app is not None
    assert web is not None
    assert app.members == ("k8s:deployment:media:web",)
    assert app.live["members"] == 1
    assert web.services == ("argocd:app:media",)


def test_a_service_counts_its_stale_members() -> None:
    meta = metadata({"services": {"dns": {"members": ["proxmox:lxc:pve:101"]}}})
    snapshot = merge(states=states(proxmox_error="down"), metadata=meta, now=NOW)
    service = snapshot.get("service:dns")
    assert service is not None
    assert service.live == {"members": 1, "staleMembers": 1}
    assert service.stale is False


def test_enrichments_add_live_fields_to_items_known_by_that_address() -> None:
    monitoring = SourceState(
        source="prometheus",
        enrichments=(
            Enrichment(address="10.0.0.11", live={"scrapeTargets": 2, "scrapeTargetsUp": 1}),
        ),
        last_success=NOW,
    )
    snapshot = merge(states=[*states(), monitoring], metadata=InventoryMetadata(), now=NOW)
    node = snapshot.get("k8s:node:worker-1")
    assert node is not None
    assert node.live == {"status": "Ready", "scrapeTargets": 2, "scrapeTargetsUp": 1}


def test_snapshot_serialises_with_camel_case_times() -> None:
    snapshot = merge(states=states(), metadata=InventoryMetadata(), now=NOW)
    data = snapshot.to_json()
    assert data["generatedAt"] == "2024-05-10T12:00:00+00:00"
    [dns] = [w for w in data["workloads"] if w["id"] == "proxmox:lxc:pve:101"]
    assert dns["lastSeen"] == "2024-05-10T11:55:00+00:00"
    assert dns["stale"] is False
