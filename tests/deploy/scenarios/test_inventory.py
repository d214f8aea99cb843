"""The inventory through the agent: get_inventory, granted by a ClusterToolPolicy, sees the
cluster's nodes and workloads with the operator's own credentials (no source stale).

An end-to-end scenario of its own so that the least-privilege proof has one that needs the
operator's rules for nodes, deployments, statefulsets and daemonsets.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.controlplane.launcher import Cluster
from tests.e2e.harness import Scene, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


def _deployment(name: str) -> dict[str, object]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.lan/app:1"}]},
            },
        },
    }


@pytest.fixture(scope="module")
def workload_namespace(crds: Cluster) -> Iterator[str]:
    """A Deployment made before the operator starts, so its first inventory has it."""
    namespace = f"inventory-{uuid.uuid4().hex[:6]}"
    crds.kubectl("create", "namespace", namespace)
    crds.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(_deployment("catalogue")))
    try:
        yield namespace
    finally:
        crds.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def operator_extra_env(workload_namespace: str) -> dict[str, str]:
    return {}


def _tool_results(scene: Scene, uid: str) -> list[str]:
    with psycopg.connect(scene.database_url) as db:
        rows = db.execute(
            "SELECT payload->'messages' FROM task_events WHERE run_uid = %s "
            "AND payload ? 'messages' ORDER BY seq",
            (uid,),
        ).fetchall()
    return [
        str(message["content"])
        for (messages,) in rows
        for message in messages
        if message.get("role") == "tool"
    ]


def test_get_inventory_sees_the_clusters_workloads(
    scene: Scene, scripted_model: ScriptedModelFactory, workload_namespace: str
) -> None:
    ns = scene.namespace
    grant = f"{ns}-inventory"
    scene.cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "missioncontrol.dev/v1alpha1",
                "kind": "ClusterToolPolicy",
                "metadata": {"name": grant},
                "spec": {
                    "grants": [
                        {
                            "namespaces": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                            "tools": ["get_inventory"],
                        }
                    ]
                },
            }
        ),
    )
    try:
        model = scripted_model(
            turns=[call("get_inventory", kind="workload", name="catalogue"), say("Found it.")]
        )
        scene.apply(
            task("inventory", model=model, tools=["get_inventory"]),
            taskrun("inventory-1", task_name="inventory"),
        )
        scene.wait("inventory-1", timeout=90)
        uid = scene.get("taskrun", "inventory-1")["metadata"]["uid"]
    finally:
        scene.cluster.kubectl("delete", "clustertoolpolicy", grant, check=False)
    [result] = _tool_results(scene, uid)
    assert "catalogue" in result, result
    assert workload_namespace in result, result
    assert "stale: False" in result, result
    assert "is stale" not in result, result  # no source failed
