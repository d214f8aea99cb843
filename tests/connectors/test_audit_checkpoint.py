"""The audit checkpoint ConfigMap against the real API server: written, read, never moved back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mission_control.connectors.audit_checkpoint import AuditCheckpoint, AuditCheckpoints
from mission_control.connectors.errors import ConnectorNotConfigured, ConnectorRequestError
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.settings import AuditSettings, KubernetesSettings
from tests.controlplane.launcher import Cluster

pytestmark = pytest.mark.controlplane

HASH_1, HASH_2 = "1" * 64, "2" * 64


@pytest.fixture
async def kubernetes(controlplane: Cluster) -> AsyncIterator[KubernetesConnector]:
    connector = KubernetesConnector.from_settings(
        KubernetesSettings(kubeconfig=controlplane.kubeconfig)
    )
    yield connector
    await connector.aclose()


@pytest.fixture
def checkpoints(kubernetes: KubernetesConnector, k8s_namespace: str) -> AuditCheckpoints:
    return AuditCheckpoints.from_settings(
        kubernetes, AuditSettings(checkpoint_namespace=k8s_namespace)
    )


async def test_a_checkpoint_is_created_then_advanced(checkpoints: AuditCheckpoints) -> None:
    before = await checkpoints.read()
    await checkpoints.write(entry_id=5, hash=HASH_1)
    first = await checkpoints.read()
    await checkpoints.write(entry_id=9, hash=HASH_2)
    second = await checkpoints.read()

    assert before is None
    assert first is not None
    assert second is not None
    assert (first.entry_id, first.hash) == (5, HASH_1)
    assert second == AuditCheckpoint(entry_id=9, hash=HASH_2, updated_at=second.updated_at)


async def test_a_checkpoint_never_moves_back(checkpoints: AuditCheckpoints) -> None:
    await checkpoints.write(entry_id=9, hash=HASH_1)

    with pytest.raises(ConnectorRequestError, match="names entry 9, newer than the chain head 4"):
        await checkpoints.write(entry_id=4, hash=HASH_2)
    found = await checkpoints.read()

    assert found is not None
    assert found.entry_id == 9


async def test_a_malformed_checkpoint_is_reported(
    checkpoints: AuditCheckpoints, controlplane: Cluster
) -> None:
    controlplane.kubectl(
        "create",
        "configmap",
        checkpoints.name,
        "-n",
        checkpoints.namespace,
        "--from-literal=entryId=seven",
        f"--from-literal=hash={HASH_1}",
    )

    with pytest.raises(ConnectorRequestError, match=r"is malformed \(entryId 'seven'"):
        await checkpoints.read()


def test_outside_a_pod_the_namespace_must_be_set(
    kubernetes: KubernetesConnector, tmp_path: Path
) -> None:
    with pytest.raises(ConnectorNotConfigured, match="MC_AUDIT_CHECKPOINT_NAMESPACE"):
        AuditCheckpoints.from_settings(
            kubernetes, AuditSettings(), service_account_namespace=tmp_path / "none"
        )
    (tmp_path / "namespace").write_text("mission-control\n")
    found = AuditCheckpoints.from_settings(
        kubernetes, AuditSettings(), service_account_namespace=tmp_path / "namespace"
    )
    assert (found.namespace, found.name) == ("mission-control", "mission-control-audit-checkpoint")
