"""The audit chain's head is checkpointed into a ConfigMap of the operator's namespace when the
operator stops (and every so many entries): the operator's rules on that ConfigMap at work.

An end-to-end scenario of its own so that the least-privilege proof has one that needs them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.controlplane.launcher import Cluster
from tests.e2e.harness import OperatorProcess, Scene, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

CHECKPOINT = "mission-control-audit-checkpoint"


@pytest.fixture(scope="module")
def checkpoint_namespace(crds: Cluster) -> Iterator[str]:
    namespace = f"audit-{uuid.uuid4().hex[:6]}"
    crds.kubectl("create", "namespace", namespace)
    try:
        yield namespace
    finally:
        crds.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def operator_extra_env(checkpoint_namespace: str) -> dict[str, str]:
    return {"MC_AUDIT_CHECKPOINT_NAMESPACE": checkpoint_namespace}


def test_the_operator_checkpoints_the_chain_when_it_stops(
    scene: Scene, scripted_model: ScriptedModelFactory, operator_process: OperatorProcess
) -> None:
    # Where this operator checkpoints (the least-privilege run points it at its own namespace);
    # a checkpoint left there by an earlier run would name another database's chain.
    namespace = operator_process.env["MC_AUDIT_CHECKPOINT_NAMESPACE"]
    scene.cluster.kubectl("delete", "configmap", CHECKPOINT, "-n", namespace, "--ignore-not-found")
    model = scripted_model(turns=[call("list_k8s_pods", namespace=scene.namespace), say("ok")])
    scene.apply(task("look", model=model), taskrun("look-1", task_name="look"))
    scene.wait("look-1", timeout=90)

    operator_process.stop()

    found = scene.cluster.kubectl(
        "get", "configmap", CHECKPOINT, "-n", namespace, "-o", "json", check=False
    )
    assert found.returncode == 0, f"no checkpoint:\n{operator_process.logs(lines=20)}"
    data = json.loads(found.stdout)["data"]
    assert int(data["entryId"]) >= 1
    assert len(data["hash"]) == 64
