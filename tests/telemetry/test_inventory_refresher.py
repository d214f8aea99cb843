"""The operator's inventory refresher over the real control plane, PostgreSQL and the Proxmox
double: a new Deployment reaches the inventory tables within one interval; a stopped Proxmox
leaves its items stale while the Kubernetes items keep refreshing; the metrics say so."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mission_control.connectors import Connectors
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.connectors.proxmox import ProxmoxConnector
from mission_control.inventory import Inventory
from mission_control.settings import KubernetesSettings
from mission_control.store import Store
from mission_control.telemetry import OperatorMetrics
from mission_control.wiring.background import InventoryRefresher
from tests.controlplane.launcher import Cluster
from tests.fakes.proxmox import FakeProxmox

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres]

INTERVAL = 1.0


@pytest.fixture
async def kubernetes(controlplane: Cluster) -> AsyncIterator[KubernetesConnector]:
    connector = KubernetesConnector.from_settings(
        KubernetesSettings(kubeconfig=controlplane.kubeconfig)
    )
    yield connector
    await connector.aclose()


async def within(seconds: float, condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until ``condition`` holds, failing with ``what`` after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:g}s")
        await asyncio.sleep(0.1)


def deployment(name: str) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: app, image: registry.lan/{name}:1}}]}}
"""


async def test_new_workloads_appear_and_a_stopped_source_goes_stale(
    controlplane: Cluster,
    k8s_namespace: str,
    kubernetes: KubernetesConnector,
    proxmox: ProxmoxConnector,
    fake_proxmox: FakeProxmox,
    store: Store,
) -> None:
    inventory = Inventory.from_connectors(
        Connectors(kubernetes=kubernetes, proxmox=proxmox),
        metadata_file=None,
        refresh_seconds=INTERVAL,
    )
    assert inventory is not None
    metrics = OperatorMetrics()
    refresher = InventoryRefresher(
        inventory=inventory, store=store, metrics=metrics, interval=INTERVAL
    )
    running = asyncio.create_task(refresher.run())
    try:
        first = f"web-{uuid.uuid4().hex[:6]}"
        first_id = f"k8s:deployment:{k8s_namespace}:{first}"

        async def has(item_id: str) -> bool:
            return await store.inventory.item("workloads", item_id) is not None

        async def proxmox_rows() -> bool:
            return bool(await store.inventory.items("workloads", source="proxmox"))

        await within(10 * INTERVAL, proxmox_rows, "the first refresh with Proxmox guests")
        controlplane.kubectl("apply", "-n", k8s_namespace, "-f", "-", input=deployment(first))
        # One interval, plus the refresh itself (a collection and a transaction).
        await within(2 * INTERVAL + 3, lambda: has(first_id), f"{first} in the workloads table")

        fake_proxmox.server.stop()

        async def proxmox_stale() -> bool:
            rows = await store.inventory.items("workloads", source="proxmox")
            return bool(rows) and all(row.stale for row in rows)

        await within(20, proxmox_stale, "the Proxmox items marked stale")
        second = f"api-{uuid.uuid4().hex[:6]}"
        second_id = f"k8s:deployment:{k8s_namespace}:{second}"
        controlplane.kubectl("apply", "-n", k8s_namespace, "-f", "-", input=deployment(second))
        await within(20, lambda: has(second_id), f"{second} while Proxmox is down")
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    kept = await store.inventory.item("workloads", first_id)
    assert kept is not None
    assert not kept.stale
    assert all(row.stale for row in await store.inventory.items("workloads", source="proxmox"))
    get = metrics.registry.get_sample_value
    assert get("mission_control_inventory_refresh_failures_total", {"source": "proxmox"}) >= 1  # type: ignore[operator]
    assert get("mission_control_inventory_refresh_failures_total", {"source": "kubernetes"}) == 0
    k8s_age = get("mission_control_inventory_refresh_age_seconds", {"source": "kubernetes"})
    pve_age = get("mission_control_inventory_refresh_age_seconds", {"source": "proxmox"})
    assert k8s_age is not None
    assert pve_age is not None
    assert pve_age > k8s_age  # Proxmox last answered before Kubernetes last did
