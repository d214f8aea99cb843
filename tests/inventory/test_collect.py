"""Collecting the inventory from real sources: the control plane, a real Prometheus, and the
Proxmox VE and Argo CD doubles; a failing source keeps its last good data, marked stale."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mission_control.connectors import Connectors
from mission_control.connectors.argocd import ArgoCDConnector
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.connectors.prometheus import PrometheusConnector
from mission_control.connectors.proxmox import ProxmoxConnector
from mission_control.inventory import Inventory, InventoryItem
from mission_control.inventory.model import Observation, SourceName
from mission_control.inventory.sources import Collected
from mission_control.settings import KubernetesSettings
from mission_control.tools.base import ToolContext
from mission_control.tools.registry import default_registry, invoke
from tests.controlplane.launcher import Cluster
from tests.fakes.argocd import FakeArgoCD, application
from tests.fakes.server import Reply
from tests.fixtures.kubelet import KubeletNode

METADATA = """
items:
  "proxmox:lxc:pve:101": {owner: alice, tags: [dns, infra]}
services:
  network:
    owner: bob
    members: ["proxmox:lxc:*:101", "proxmox:vm:pve:100"]
"""


@pytest.fixture
def metadata_file(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(METADATA)
    return path


def ids(items: Iterable[InventoryItem]) -> list[str]:
    return [item.id for item in items]


async def test_proxmox_and_argocd_items_merge_with_metadata(
    proxmox: ProxmoxConnector, argocd: ArgoCDConnector, metadata_file: Path
) -> None:
    inventory = Inventory.from_connectors(
        Connectors(proxmox=proxmox, argocd=argocd), metadata_file=metadata_file, refresh_seconds=60
    )
    assert inventory is not None
    snapshot = await inventory.refresh()
    assert ids(snapshot.hosts) == ["proxmox:node:pve", "proxmox:node:pve2"]
    assert ids(snapshot.workloads) == [
        "proxmox:lxc:pve2:103",
        "proxmox:lxc:pve2:104",
        "proxmox:lxc:pve:101",
        "proxmox:vm:pve2:102",
        "proxmox:vm:pve:100",
    ]
    assert ids(snapshot.services) == [
        "argocd:app:media",
        "argocd:app:monitoring",
        "service:network",
    ]
    dns = snapshot.get("proxmox:lxc:pve:101")
    assert dns is not None
    assert (dns.owner, dns.tags, dns.services) == ("alice", ("dns", "infra"), ("service:network",))
    assert dns.live["status"] == "running"
    assert dns.last_seen is not None
    media = snapshot.get("argocd:app:media")
    assert media is not None
    assert (media.live["sync"], media.live["health"]) == ("OutOfSync", "Degraded")


async def test_a_failing_source_keeps_last_good_data_while_others_refresh(
    proxmox: ProxmoxConnector, argocd: ArgoCDConnector, fake_argocd: FakeArgoCD
) -> None:
    inventory = Inventory.from_connectors(
        Connectors(proxmox=proxmox, argocd=argocd), metadata_file=None, refresh_seconds=60
    )
    assert inventory is not None
    first = await inventory.refresh()
    fake_argocd.server.enqueue(
        "GET", "/api/v1/applications", Reply(503, {"error": "unavailable", "code": 14})
    )
    fake_argocd.apps["extra"] = application("extra")
    second = await inventory.refresh()
    assert ids(second.services) == ids(first.services)
    assert all(item.stale for item in second.services)
    assert second.services[0].last_seen == first.services[0].last_seen
    assert not any(item.stale for item in second.workloads)
    assert second.workloads[0].last_seen != first.workloads[0].last_seen
    [argo] = [s for s in second.sources if s.source == "argocd"]
    assert argo.stale
    assert argo.error is not None
    assert "503" in argo.error
    third = await inventory.refresh()
    assert "argocd:app:extra" in ids(third.services)
    assert not any(item.stale for item in third.services)


async def test_get_inventory_filters_by_kind_source_name_and_tag(
    proxmox: ProxmoxConnector, argocd: ArgoCDConnector, metadata_file: Path
) -> None:
    inventory = Inventory.from_connectors(
        Connectors(proxmox=proxmox, argocd=argocd), metadata_file=metadata_file, refresh_seconds=60
    )
    ctx = ToolContext(connectors=Connectors(proxmox=proxmox, argocd=argocd), inventory=inventory)
    tool = default_registry().get("get_inventory")
    hosts = await invoke(tool, {"kind": "host"}, ctx)
    assert [row["id"] for row in hosts.raw] == ["proxmox:node:pve", "proxmox:node:pve2"]
    assert hosts.text.splitlines()[0].split()[:3] == ["ID", "KIND", "STATUS"]
    vms = await invoke(tool, {"source": "proxmox", "name": "vm:"}, ctx)
    assert [row["id"] for row in vms.raw] == ["proxmox:vm:pve2:102", "proxmox:vm:pve:100"]
    tagged = await invoke(tool, {"tag": "dns"}, ctx)
    assert [row["id"] for row in tagged.raw] == ["proxmox:lxc:pve:101"]
    # A single match is shown in full, links and all.
    assert "owner: alice" in tagged.text.splitlines()
    none = await invoke(tool, {"name": "no-such-thing"}, ctx)
    assert none.text == "no inventory items match"


@pytest.fixture
async def kubernetes(controlplane: Cluster) -> AsyncIterator[KubernetesConnector]:
    connector = KubernetesConnector.from_settings(
        KubernetesSettings(kubeconfig=controlplane.kubeconfig)
    )
    yield connector
    await connector.aclose()


@pytest.mark.controlplane
@pytest.mark.prometheus
async def test_kubernetes_nodes_and_workloads_join_argocd_apps_and_scrape_health(
    controlplane: Cluster,
    k8s_namespace: str,
    fake_kubelet_node: KubeletNode,
    kubernetes: KubernetesConnector,
    argocd: ArgoCDConnector,
    prometheus_connector: PrometheusConnector,
) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": k8s_namespace,
            "labels": {"app.kubernetes.io/instance": "media"},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }
    controlplane.kubectl("apply", "-f", "-", input=json.dumps(deployment))
    inventory = Inventory.from_connectors(
        Connectors(kubernetes=kubernetes, argocd=argocd, prometheus=prometheus_connector),
        metadata_file=None,
        refresh_seconds=60,
    )
    assert inventory is not None
    snapshot = await inventory.refresh()
    assert not any(s.stale for s in snapshot.sources), snapshot.sources

    node = snapshot.get(f"k8s:node:{fake_kubelet_node.name}")
    assert node is not None
    assert node.live["status"] == "Ready"
    assert node.live["ip"] == "127.0.0.1"
    # The real Prometheus scrapes one target on 127.0.0.1, the node's InternalIP.
    assert node.live["scrapeTargets"] == 1
    assert node.live["scrapeTargetsUp"] == 1

    web = snapshot.get(f"k8s:deployment:{k8s_namespace}:web")
    assert web is not None
    assert (web.live["desired"], web.live["ready"], web.live["images"]) == (2, 0, "nginx:1.27")
    assert web.live["status"] == "Degraded"
    assert web.services == ("argocd:app:media",)
    media = snapshot.get("argocd:app:media")
    assert media is not None
    assert f"k8s:deployment:{k8s_namespace}:web" in media.members


@dataclass
class GatedSource:
    """A source whose collections wait until ``release`` is set, counting each one."""

    name: SourceName = "proxmox"
    collections: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def collect(self) -> Collected:
        self.collections += 1
        await self.release.wait()
        host = Observation(
            id="proxmox:node:pve", kind="host", type="node", name="pve", source="proxmox"
        )
        return Collected(observations=(host,))


async def test_callers_finding_the_inventory_stale_together_share_one_refresh() -> None:
    source = GatedSource()
    inventory = Inventory(sources=[source], refresh_seconds=60)
    callers = [asyncio.create_task(inventory.current()) for _ in range(3)]
    for _ in range(100):  # let every caller reach the refresh or its lock
        await asyncio.sleep(0)
    source.release.set()
    snapshots = await asyncio.gather(*callers)
    assert source.collections == 1
    assert all(snapshot is snapshots[0] for snapshot in snapshots)
    assert ids(snapshots[0].hosts) == ["proxmox:node:pve"]
