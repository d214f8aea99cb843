"""`mission-control audit checkpoint|verify` with a key and a checkpoint in the API server."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from mission_control.store import AuditKey, Store
from tests.controlplane.launcher import Cluster
from tests.store.test_cli import run_cli

pytestmark = [pytest.mark.postgres, pytest.mark.controlplane]

SECRET = b"0123456789abcdef0123456789abcdef"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "audit.key"
    path.write_bytes(SECRET + b"\n")
    return path


def configmap(cluster: Cluster, namespace: str) -> dict[str, str]:
    out = cluster.kubectl(
        "get", "configmap", "mission-control-audit-checkpoint", "-n", namespace, "-o", "json"
    )
    data: dict[str, str] = json.loads(out.stdout)["data"]
    return data


async def test_a_checkpoint_exposes_a_truncated_tail(
    database_url: str, controlplane: Cluster, k8s_namespace: str, key_file: Path
) -> None:
    env = {
        "KUBECONFIG": str(controlplane.kubeconfig),
        "MC_AUDIT_CHECKPOINT_NAMESPACE": k8s_namespace,
        "MC_AUDIT_KEY_FILE": str(key_file),
    }
    async with Store.open(database_url, audit_key=AuditKey(SECRET)) as store:
        for n in range(3):
            await store.audit.append(
                actor="alice", actor_kind="user", action="approve", target="t", details={"n": n}
            )
        head = await store.audit.head()
    assert head is not None

    checkpointed = await run_cli("audit", "checkpoint", database_url=database_url, **env)
    recorded = configmap(controlplane, k8s_namespace)
    intact = await run_cli("audit", "verify", database_url=database_url, **env)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        await conn.execute("DELETE FROM audit_entries WHERE id = %s", (head.entry_id,))
        await conn.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
    truncated = await run_cli("audit", "verify", database_url=database_url, **env)
    refused = await run_cli("audit", "checkpoint", database_url=database_url, **env)

    assert checkpointed.returncode == 0, checkpointed.stderr
    assert checkpointed.stdout.startswith(f"audit checkpoint: entry {head.entry_id} (")
    assert (recorded["entryId"], recorded["hash"]) == (str(head.entry_id), head.hash)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.strip().endswith(
        f"checkpoint entry {head.entry_id} in configmap "
        f"{k8s_namespace}/mission-control-audit-checkpoint matches"
    )
    assert truncated.returncode == 1
    assert truncated.stderr.startswith("audit chain truncated: the chain ends at entry")
    assert refused.returncode == 1
    assert refused.stderr.startswith("not checkpointed, the audit chain is damaged")
    assert configmap(controlplane, k8s_namespace)["entryId"] == str(head.entry_id)


async def test_audit_commands_refuse_to_run_without_a_key(database_url: str) -> None:
    for command in ("verify", "checkpoint"):
        result = await run_cli("audit", command, database_url=database_url)

        assert result.returncode == 2
        assert result.stderr.startswith("configuration error: MC_AUDIT_KEY_FILE: is not set")


async def test_the_key_never_appears_in_the_output(database_url: str, key_file: Path) -> None:
    result = await run_cli(
        "audit",
        "verify",
        "--no-checkpoint",
        database_url=database_url,
        MC_AUDIT_KEY_FILE=str(key_file),
    )

    assert result.returncode == 0, result.stderr
    assert SECRET.decode() not in result.stdout + result.stderr
