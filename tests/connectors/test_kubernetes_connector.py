"""The Kubernetes connector against the real API server of the local control plane."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from mission_control.connectors.errors import (
    ConnectorAuthError,
    ConnectorForbidden,
    ConnectorNotConfigured,
    ConnectorNotFound,
    ConnectorRequestError,
    ConnectorUnavailable,
)
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.connectors.kubernetes import client as kubernetes_client
from mission_control.settings import KubernetesSettings
from tests.controlplane.launcher import Cluster
from tests.fixtures.kubelet import KubeletNode
from tests.support.processes import free_port

pytestmark = pytest.mark.controlplane


@pytest.fixture
async def connector(controlplane: Cluster) -> AsyncIterator[KubernetesConnector]:
    connector = KubernetesConnector.from_kubeconfig(controlplane.kubeconfig)
    yield connector
    await connector.aclose()


def apply(cluster: Cluster, namespace: str, *objects: dict[str, object]) -> None:
    manifest = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))


def deployment(name: str, *, replicas: int = 1, image: str = "nginx:1.27") -> dict[str, object]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def rewrite_kubeconfig(source: Path, target: Path, *, token: str | None, server: str) -> Path:
    """A copy of ``source`` whose user is a bearer token and whose server is ``server``."""
    config = yaml.safe_load(source.read_text())
    config["clusters"][0]["cluster"]["server"] = server
    if token is not None:
        config["users"][0]["user"] = {"token": token}
    target.write_text(yaml.safe_dump(config))
    return target


async def test_check_succeeds_against_the_api_server(connector: KubernetesConnector) -> None:
    await connector.check()
    assert connector.server.startswith("127.0.0.1:")


async def test_check_reports_an_unreachable_server_by_host(
    controlplane: Cluster, tmp_path: Path
) -> None:
    port = free_port()  # nobody listens on it
    kubeconfig = rewrite_kubeconfig(
        controlplane.kubeconfig, tmp_path / "kc", token=None, server=f"https://127.0.0.1:{port}"
    )
    connector = KubernetesConnector.from_kubeconfig(kubeconfig)
    try:
        with pytest.raises(ConnectorUnavailable, match=rf"127\.0\.0\.1:{port} is unreachable"):
            await connector.check()
    finally:
        await connector.aclose()


async def test_a_refused_token_is_an_auth_error_that_does_not_repeat_it(
    controlplane: Cluster, tmp_path: Path
) -> None:
    token = "not-a-valid-token-0123456789"
    kubeconfig = rewrite_kubeconfig(
        controlplane.kubeconfig, tmp_path / "kc", token=token, server=controlplane.server
    )
    connector = KubernetesConnector.from_kubeconfig(kubeconfig)
    try:
        with pytest.raises(ConnectorAuthError, match="refused the operator's credentials") as err:
            await connector.check()
    finally:
        await connector.aclose()
    assert token not in str(err.value)


def test_a_missing_kubeconfig_is_not_configured_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConnectorNotConfigured, match="KUBECONFIG"):
        KubernetesConnector.from_settings(KubernetesSettings(kubeconfig=tmp_path / "missing"))


async def test_a_missing_deployment_is_not_found_naming_it(
    connector: KubernetesConnector, k8s_namespace: str
) -> None:
    with pytest.raises(ConnectorNotFound, match=f"deployment {k8s_namespace}/nope not found"):
        await connector.get_deployment(k8s_namespace, "nope")


async def test_an_invalid_label_selector_is_a_request_error(
    connector: KubernetesConnector, k8s_namespace: str
) -> None:
    with pytest.raises(ConnectorRequestError, match="rejected list pods"):
        await connector.list_pods(k8s_namespace, label_selector="app in (")


async def test_impersonation_stays_with_its_own_calls_when_they_run_concurrently(
    connector: KubernetesConnector, controlplane: Cluster, k8s_namespace: str
) -> None:
    controlplane.kubectl("create", "serviceaccount", "agent", "-n", k8s_namespace)
    apply(controlplane, k8s_namespace, deployment("web"))
    agent = f"system:serviceaccount:{k8s_namespace}:agent"

    async def as_agent() -> BaseException | None:
        try:
            await connector.list_deployments(k8s_namespace, impersonate=agent)
        except ConnectorForbidden as exc:
            return exc
        return None

    async def as_operator() -> int:
        return len(await connector.list_deployments(k8s_namespace))

    results = await asyncio.gather(*(as_agent() if i % 2 else as_operator() for i in range(20)))
    assert results[0::2] == [1] * 10  # the operator's calls never picked up the agent's identity
    assert all(isinstance(r, ConnectorForbidden) for r in results[1::2])
    assert str(results[1]) == (
        f"service account {k8s_namespace}/agent may not list deployments in namespace "
        f"{k8s_namespace} (RBAC): grant it a Role or remove serviceAccountName"
    )


async def test_the_operator_lacking_impersonation_rights_is_told_so(
    controlplane: Cluster, k8s_namespace: str, tmp_path: Path
) -> None:
    controlplane.kubectl("create", "serviceaccount", "operator", "-n", k8s_namespace)
    token = controlplane.kubectl(
        "create", "token", "operator", "-n", k8s_namespace, "--duration=10m"
    ).stdout.strip()
    kubeconfig = rewrite_kubeconfig(
        controlplane.kubeconfig, tmp_path / "kc", token=token, server=controlplane.server
    )
    connector = KubernetesConnector.from_kubeconfig(kubeconfig)
    try:
        with pytest.raises(ConnectorForbidden, match="may not impersonate service account") as err:
            await connector.list_pods(
                k8s_namespace, impersonate=f"system:serviceaccount:{k8s_namespace}:agent"
            )
    finally:
        await connector.aclose()
    assert token not in str(err.value)


async def test_list_workloads_covers_deployments_statefulsets_and_daemonsets(
    connector: KubernetesConnector, controlplane: Cluster, k8s_namespace: str
) -> None:
    pod_template = {
        "metadata": {"labels": {"app": "db"}},
        "spec": {"containers": [{"name": "db", "image": "postgres:17"}]},
    }
    apply(
        controlplane,
        k8s_namespace,
        deployment("web", replicas=3),
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "labels": {"tier": "data"}},
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": pod_template,
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "db"}},
                "template": pod_template,
            },
        },
    )
    mine = {
        (w.kind, w.name): w
        for w in await connector.list_workloads()
        if w.namespace == k8s_namespace
    }
    assert set(mine) == {("Deployment", "web"), ("StatefulSet", "db"), ("DaemonSet", "agent")}
    assert (mine["Deployment", "web"].desired, mine["Deployment", "web"].ready) == (3, 0)
    assert mine["Deployment", "web"].images == ("nginx:1.27",)
    assert mine["StatefulSet", "db"].desired == 2
    assert mine["StatefulSet", "db"].labels == {"tier": "data"}
    assert mine["DaemonSet", "agent"].images == ("postgres:17",)


async def test_list_nodes_reads_address_readiness_and_capacity(
    connector: KubernetesConnector, fake_kubelet_node: KubeletNode
) -> None:
    nodes = {node.name: node for node in await connector.list_nodes()}
    node = nodes[fake_kubelet_node.name]
    assert node.internal_ip == "127.0.0.1"
    assert node.ready is True
    assert node.kubelet_version == "v1.37.2-fake"
    assert (node.cpu, node.memory) == ("4", "8Gi")
    assert node.labels["fake"] == "true"


async def test_lists_follow_continue_tokens_across_pages(
    connector: KubernetesConnector,
    controlplane: Cluster,
    k8s_namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apply(controlplane, k8s_namespace, *(deployment(f"web-{i}") for i in range(5)))
    monkeypatch.setattr(kubernetes_client, "PAGE_SIZE", 2)
    names = sorted(d.name for d in await connector.list_deployments(k8s_namespace))
    assert names == [f"web-{i}" for i in range(5)]
