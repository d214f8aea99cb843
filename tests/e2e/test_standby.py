"""A standby replica with kopf peering: two operators under one peering object, the active one
(higher ``--priority``) SIGKILLed while its run waits for an approval; the standby takes over
once the dead one's heartbeat expires, resumes the run, and the call runs once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.controlplane.launcher import Cluster
from tests.e2e.harness import OperatorProcess, Scene, another_operator, hold_a_delete
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import wait_until

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

ROOT = Path(__file__).resolve().parents[2]
PEERING = "mission-control"


@pytest.fixture(scope="module")
def operator_args(crds: Cluster) -> tuple[str, ...]:
    crds.kubectl("apply", "-f", str(ROOT / "crds" / "peering" / "kopf-peering.yaml"))
    crds.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        "crd/kopfpeerings.kopf.dev", "crd/clusterkopfpeerings.kopf.dev",
    )  # fmt: skip
    return ("--peering", PEERING, "--priority", "100")


@pytest.fixture(scope="module")
def standby(
    operator_process: OperatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    with another_operator(
        operator_process,
        log=tmp_path_factory.mktemp("standby") / "operator.log",
        args=("--peering", PEERING, "--priority", "50"),
    ) as process:
        yield process


def _names(process: OperatorProcess) -> set[str]:
    return {str(line["name"]) for line in process.lines() if "name" in line}


def test_the_standby_takes_over_a_run_when_the_active_replica_is_killed(
    scene: Scene,
    operator_process: OperatorProcess,
    standby: OperatorProcess,
    scripted_model: ScriptedModelFactory,
) -> None:
    scene.apply({"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": PEERING}})
    # Both replicas heartbeat into it before any run: the standby knows it is one.
    wait_until(
        lambda: len(scene.get("kopfpeering", PEERING).get("status") or {}) == 2,
        timeout=120,
        interval=1.0,
        what="both replicas in the peering object",
    )
    tool_call_id = hold_a_delete(scene, scripted_model)
    standby_named_before = "evict-1" in _names(standby)

    operator_process.kill()
    killed = time.monotonic()
    me = scene.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    approval = {"toolCallId": tool_call_id, "decision": "Approve", "by": me}
    scene.kubectl(
        "patch", "taskrun", "evict-1", "--type=merge", "-p",
        json.dumps({"spec": {"approvals": [approval]}}),
    )  # fmt: skip
    # The standby waits for the dead replica's heartbeat to expire (kopf's peering lifetime).
    scene.wait("evict-1", timeout=300)
    print(f"standby: the run finished {time.monotonic() - killed:.0f} s after the kill")

    assert not standby_named_before  # the standby did nothing while the active one lived
    # Its log line comes after the final status patch that ended the wait.
    wait_until(lambda: "evict-1" in _names(standby), timeout=30, what="the standby's log")
    assert "stale-0" not in scene.kubectl("get", "pods", "-o", "name")
    uid = scene.get("taskrun", "evict-1")["metadata"]["uid"]
    with psycopg.connect(scene.database_url) as db:
        rows = db.execute(
            "SELECT tool, status FROM tool_call_records WHERE run_uid = %s", (uid,)
        ).fetchall()
    assert rows == [("delete_k8s_pod", "completed")]  # executed once
