"""Our custom objects, namespace facts and Events through the connector, on the real API server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from mission_control.connectors.errors import (
    ConnectorForbidden,
    ConnectorNotFound,
    ConnectorRequestError,
)
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.connectors.kubernetes.custom import MissionControlObjects, ObjectRef
from tests.controlplane.launcher import Cluster

pytestmark = pytest.mark.controlplane

TASK = {
    "apiVersion": "missioncontrol.dev/v1alpha1",
    "kind": "Task",
    "metadata": {"name": "look"},
    "spec": {"prompt": "Look around.", "tools": ["list_k8s_pods"]},
}


@pytest.fixture
async def objects(crds: Cluster) -> AsyncIterator[MissionControlObjects]:
    connector = KubernetesConnector.from_kubeconfig(crds.kubeconfig)
    yield MissionControlObjects(connector, instance="test")
    await connector.aclose()


def apply(cluster: Cluster, namespace: str, manifest: dict[str, object]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))


async def test_get_reads_a_task_and_a_missing_one_is_none(
    objects: MissionControlObjects, crds: Cluster, k8s_namespace: str
) -> None:
    apply(crds, k8s_namespace, TASK)

    found = await objects.get("tasks", namespace=k8s_namespace, name="look")
    missing = await objects.get("tasks", namespace=k8s_namespace, name="absent")

    assert found is not None
    assert found["spec"]["tools"] == ["list_k8s_pods"]
    assert missing is None


async def test_list_namespaced_returns_every_task_of_the_namespace(
    objects: MissionControlObjects, crds: Cluster, k8s_namespace: str
) -> None:
    apply(crds, k8s_namespace, TASK)
    apply(crds, k8s_namespace, {**TASK, "metadata": {"name": "other"}})

    listed = await objects.list_namespaced("tasks", namespace=k8s_namespace)

    assert sorted(item["metadata"]["name"] for item in listed) == ["look", "other"]


async def test_patch_status_merges_into_the_status_subresource_only(
    objects: MissionControlObjects, crds: Cluster, k8s_namespace: str
) -> None:
    apply(crds, k8s_namespace, TASK)
    condition = {
        "type": "Ready",
        "status": "True",
        "reason": "Valid",
        "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }

    after = await objects.patch_status(
        "tasks",
        namespace=k8s_namespace,
        name="look",
        patch={"observedGeneration": 1, "conditions": [condition]},
    )

    assert after["status"]["conditions"][0]["reason"] == "Valid"
    assert after["metadata"]["generation"] == 1  # a status write is not a spec change
    shown = crds.kubectl(
        "get", "task", "look", "-n", k8s_namespace, "-o", "jsonpath={.status.observedGeneration}"
    )
    assert shown.stdout == "1"


async def test_patch_status_rejected_by_the_schema_names_the_object(
    objects: MissionControlObjects, crds: Cluster, k8s_namespace: str
) -> None:
    apply(crds, k8s_namespace, TASK)

    with pytest.raises(ConnectorRequestError, match=r"patch status of task .*Unsupported value"):
        await objects.patch_status(
            "tasks",
            namespace=k8s_namespace,
            name="look",
            patch={"conditions": [{"type": "Ready", "status": "Maybe"}]},
        )


async def test_namespace_labels_and_service_account_existence(
    objects: MissionControlObjects, crds: Cluster, k8s_namespace: str
) -> None:
    crds.kubectl("label", "namespace", k8s_namespace, "missioncontrol.dev/agents=enabled")
    crds.kubectl("create", "serviceaccount", "agent", "-n", k8s_namespace)

    labels = await objects.namespace_labels(k8s_namespace)

    assert labels["missioncontrol.dev/agents"] == "enabled"
    assert await objects.service_account_exists(k8s_namespace, "agent") is True
    assert await objects.service_account_exists(k8s_namespace, "nobody") is False


async def test_post_event_is_listed_by_kubectl_describe(
    objects: MissionControlObjects, crds: Cluster, k8s_namespace: str
) -> None:
    apply(crds, k8s_namespace, TASK)
    task = await objects.get("tasks", namespace=k8s_namespace, name="look")
    assert task is not None
    about = ObjectRef(
        kind="Task", namespace=k8s_namespace, name="look", uid=task["metadata"]["uid"]
    )

    await objects.post_event(about, reason="Checked", message="all tools known", warning=True)

    described = crds.kubectl("describe", "task", "look", "-n", k8s_namespace).stdout
    assert "Checked" in described
    assert "all tools known" in described
    assert "Warning" in described


RUN = {
    "apiVersion": "missioncontrol.dev/v1alpha1",
    "kind": "TaskRun",
    "metadata": {"name": "made-1", "labels": {"missioncontrol.dev/trigger": "t"}},
    "spec": {"taskRef": {"name": "look"}},
}


async def test_create_makes_a_run_once_and_the_selector_lists_it(
    objects: MissionControlObjects, crds: Cluster, k8s_namespace: str
) -> None:
    apply(crds, k8s_namespace, {**RUN, "metadata": {"name": "unlabelled"}})

    created = await objects.create("taskruns", namespace=k8s_namespace, body=RUN)
    again = await objects.create("taskruns", namespace=k8s_namespace, body=RUN)
    labelled = await objects.list_namespaced(
        "taskruns", namespace=k8s_namespace, label_selector="missioncontrol.dev/trigger"
    )

    assert created is not None
    assert created["metadata"]["name"] == "made-1"
    assert again is None  # exists already: not an error, nothing created
    assert [item["metadata"]["name"] for item in labelled] == ["made-1"]
    with pytest.raises(ConnectorRequestError, match="rejected create"):
        await objects.create(
            "taskruns",
            namespace=k8s_namespace,
            body={**RUN, "metadata": {"name": "bad"}, "spec": {}},
        )


async def test_patch_changes_the_spec(
    objects: MissionControlObjects, crds: Cluster, k8s_namespace: str
) -> None:
    apply(crds, k8s_namespace, RUN)

    after = await objects.patch(
        "taskruns", namespace=k8s_namespace, name="made-1", patch={"spec": {"status": "Cancelled"}}
    )

    assert after["spec"]["status"] == "Cancelled"


async def test_a_trigger_token_is_read_only_as_an_agent_granted_its_secret(
    crds: Cluster, k8s_namespace: str
) -> None:
    """TaskTrigger tokens go through the one impersonated Secret read notifications use."""
    ns = k8s_namespace
    crds.kubectl("create", "serviceaccount", "agent", "-n", ns)
    crds.kubectl("create", "secret", "generic", "am-token", "-n", ns, "--from-literal=token=abc")
    agent = f"system:serviceaccount:{ns}:agent"
    connector = KubernetesConnector.from_kubeconfig(crds.kubeconfig)
    try:
        with pytest.raises(ConnectorForbidden, match=f"service account {ns}/agent may not get"):
            await connector.read_secret_key(ns, "am-token", "token", impersonate=agent)
        crds.kubectl(
            "create", "role", "read-am-token", "-n", ns, "--verb=get", "--resource=secrets",
            "--resource-name=am-token",
        )  # fmt: skip
        crds.kubectl(
            "create", "rolebinding", "read-am-token", "-n", ns, "--role=read-am-token",
            f"--serviceaccount={ns}:agent",
        )  # fmt: skip
        # The authorizer learns of the binding through a watch: poll for it.
        for _ in range(120):
            try:
                token = await connector.read_secret_key(ns, "am-token", "token", impersonate=agent)
                break
            except ConnectorForbidden:
                await asyncio.sleep(0.5)
        assert token == "abc"
        with pytest.raises(ConnectorNotFound, match="has no key 'other'"):
            await connector.read_secret_key(ns, "am-token", "other", impersonate=agent)
        with pytest.raises(ConnectorForbidden):  # the Role names one Secret, not all of them
            await connector.read_secret_key(ns, "absent", "token", impersonate=agent)
    finally:
        await connector.aclose()
