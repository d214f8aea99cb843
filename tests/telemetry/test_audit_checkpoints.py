"""The operator's audit checkpoints: every N entries, and once more when it stops; the real
control plane keeps the checkpoint, the real PostgreSQL the chain."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mission_control.connectors.audit_checkpoint import AuditCheckpoints
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.settings import KubernetesSettings
from mission_control.store import Store
from mission_control.telemetry import OperatorMetrics
from mission_control.wiring.background import AuditCheckpointer, background
from tests.controlplane.launcher import Cluster

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres]


@pytest.fixture
async def checkpoints(controlplane: Cluster, k8s_namespace: str) -> AsyncIterator[AuditCheckpoints]:
    connector = KubernetesConnector.from_settings(
        KubernetesSettings(kubeconfig=controlplane.kubeconfig)
    )
    yield AuditCheckpoints(connector, namespace=k8s_namespace, name="audit-checkpoint")
    await connector.aclose()


async def append(store: Store, count: int) -> int:
    last = 0
    for index in range(count):
        entry = await store.audit.append(
            actor="mission-control", actor_kind="operator", action="test.entry", target=f"#{index}"
        )
        last = entry.id
    return last


async def test_a_checkpoint_every_n_entries_and_one_at_shutdown(
    store: Store, checkpoints: AuditCheckpoints
) -> None:
    metrics = OperatorMetrics()
    checkpointer = AuditCheckpointer(
        store=store, checkpoints=checkpoints, metrics=metrics, every=3, poll_seconds=3600
    )
    async with background(refresher=None, checkpointer=checkpointer):
        await append(store, 2)
        assert not await checkpointer.due()
        third = await append(store, 1)
        assert await checkpointer.due()
        await checkpointer.checkpoint()
        recorded = await checkpoints.read()
        assert recorded is not None
        assert recorded.entry_id == third
        assert not await checkpointer.due()
        last = await append(store, 2)  # fewer than N: only the shutdown records them

    recorded = await checkpoints.read()
    assert recorded is not None
    assert recorded.entry_id == last
    head = await store.audit.head()
    assert head is not None
    assert recorded.hash == head.hash
    get = metrics.registry.get_sample_value
    assert get("mission_control_audit_checkpoints_total", {"outcome": "ok"}) == 2
    assert get("mission_control_audit_checkpoint_age_seconds") >= 0  # type: ignore[operator]
