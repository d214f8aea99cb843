"""At-most-once mutation: a change that may have reached the server is never retried.

Each fault is produced by the double (a slow answer, a reset after the request body, a 502
from a gateway); the double counts the requests, so "exactly once" is what it received.
Only failures that prove nothing was sent (no connection) stay retryable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from kubernetes import client as k8s

from mission_control.connectors.argocd import ArgoCDConnector
from mission_control.connectors.errors import (
    MUTATION_TIMEOUT_SECONDS,
    ConnectorOutcomeUnknown,
    ConnectorUnavailable,
)
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.connectors.proxmox import ProxmoxConnector
from mission_control.errors import TemporaryError
from mission_control.tools.base import Tool, ToolOutcomeUnknown
from mission_control.tools.registry import ALL_TOOLS, default_registry, invoke
from tests.fakes.argocd import FakeArgoCD
from tests.fakes.proxmox import API, FakeProxmox
from tests.fakes.server import FakeServer, Reply
from tests.fixtures.fakes_tools import argocd_settings, proxmox_settings
from tests.support.pki import CertificateAuthority
from tests.tools.helpers import context_with

REBOOT = API + r"/nodes/pve/lxc/101/status/reboot"
SYNC = r"/api/v1/applications/media/sync"
#: The connectors' own timeout in these tests; the tool's bound is longer, the double slower.
CONNECTOR_TIMEOUT = 0.2
TOOL_BOUND = 0.6
SLOW = 2.0


def bounded(name: str) -> Tool[Any]:
    """The registered tool with a short bound, so a slow double outlasts it quickly."""
    return dataclasses.replace(default_registry().get(name), timeout_seconds=TOOL_BOUND)


@pytest.fixture
async def quick_proxmox(
    fake_proxmox: FakeProxmox, test_ca: CertificateAuthority
) -> AsyncIterator[ProxmoxConnector]:
    settings = proxmox_settings(fake_proxmox, test_ca, timeout_seconds=CONNECTOR_TIMEOUT)
    connector = ProxmoxConnector.from_settings(settings)
    yield connector
    await connector.aclose()


@pytest.fixture
async def quick_argocd(fake_argocd: FakeArgoCD) -> AsyncIterator[ArgoCDConnector]:
    connector = ArgoCDConnector.from_settings(
        argocd_settings(fake_argocd, timeout_seconds=CONNECTOR_TIMEOUT)
    )
    yield connector
    await connector.aclose()


# -- Proxmox VE ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        (Reply(200, {"data": "UPID:pve:late"}, delay=SLOW), r"did not finish within 0\.6s"),
        (Reply(reset=True), "may have received the request to reboot LXC 101"),
        (Reply(502, {"data": None}, reason="Bad Gateway"), "answered 502"),
    ],
    ids=["slow", "reset-after-body", "502"],
)
async def test_a_proxmox_reboot_that_may_have_arrived_is_unknown_and_sent_once(
    quick_proxmox: ProxmoxConnector, fake_proxmox: FakeProxmox, fault: Reply, says: str
) -> None:
    fake_proxmox.server.enqueue("POST", REBOOT, fault)
    with pytest.raises(ToolOutcomeUnknown, match=says) as caught:
        await invoke(
            bounded("restart_proxmox_lxc"),
            {"vmid": 101, "node": "pve"},
            context_with(proxmox=quick_proxmox),
        )
    assert not isinstance(caught.value, TemporaryError)
    assert "before trying again" in str(caught.value)
    assert "uptime" in str(caught.value) or "task log" in str(caught.value)
    assert len(fake_proxmox.server.requests_to("POST", REBOOT)) == 1


async def test_a_proxmox_reboot_that_could_not_connect_stays_retryable(
    fake_proxmox: FakeProxmox, test_ca: CertificateAuthority
) -> None:
    with FakeServer() as gone:
        port = gone.port
    settings = proxmox_settings(fake_proxmox, test_ca, host=f"127.0.0.1:{port}")
    connector = ProxmoxConnector.from_settings(settings)
    try:
        with pytest.raises(ConnectorUnavailable, match="is unreachable"):
            await connector.reboot_lxc(node="pve", vmid=101)
    finally:
        await connector.aclose()


# -- Argo CD ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        (Reply(200, {}, delay=SLOW), r"did not finish within 0\.6s"),
        (Reply(reset=True), "may have received the request to sync media"),
        (Reply(502, "bad gateway"), "answered 502"),
        (Reply(504, "gateway timeout"), "answered 504"),
    ],
    ids=["slow", "reset-after-body", "502", "504"],
)
async def test_an_argocd_sync_that_may_have_arrived_is_unknown_and_sent_once(
    quick_argocd: ArgoCDConnector, fake_argocd: FakeArgoCD, fault: Reply, says: str
) -> None:
    fake_argocd.server.enqueue("POST", SYNC, fault)
    with pytest.raises(ToolOutcomeUnknown, match=says) as caught:
        await invoke(
            bounded("argocd_sync_app"), {"name": "media"}, context_with(argocd=quick_argocd)
        )
    assert "get_argocd_app_status" in str(caught.value)
    assert len(fake_argocd.server.requests_to("POST", SYNC)) == 1


async def test_an_argocd_rollback_reset_after_the_body_is_unknown(
    argocd: ArgoCDConnector, fake_argocd: FakeArgoCD
) -> None:
    rollback = r"/api/v1/applications/media/rollback"
    fake_argocd.server.enqueue("POST", rollback, Reply(reset=True))
    with pytest.raises(ConnectorOutcomeUnknown, match="roll back media to history id 0"):
        await argocd.rollback_application("media", history_id=0, prune=False, dry_run=False)
    assert len(fake_argocd.server.requests_to("POST", rollback)) == 1


async def test_an_argocd_sync_that_could_not_connect_stays_retryable(
    fake_argocd: FakeArgoCD,
) -> None:
    with FakeServer() as gone:
        url = gone.url
    connector = ArgoCDConnector.from_settings(argocd_settings(fake_argocd, url=url))
    try:
        with pytest.raises(ConnectorUnavailable, match="is unreachable"):
            await connector.sync_application("media", revision=None, prune=False, dry_run=False)
    finally:
        await connector.aclose()


# -- Kubernetes (a scripted API server: the real one cannot be made to fail on demand) ------

DEPLOYMENT = r"/apis/apps/v1/namespaces/media/deployments/web"
POD = r"/api/v1/namespaces/media/pods/web-0"


@pytest.fixture
def api_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
async def kubernetes(api_server: FakeServer) -> AsyncIterator[KubernetesConnector]:
    connector = KubernetesConnector(
        k8s.Configuration(host=api_server.url), timeout=CONNECTOR_TIMEOUT
    )
    yield connector
    await connector.aclose()


@pytest.mark.parametrize(
    "fault",
    [Reply(reset=True), Reply(502, "bad gateway"), Reply(500, {"kind": "Status", "code": 500})],
    ids=["reset-after-body", "502", "500"],
)
async def test_a_kubernetes_change_that_may_have_arrived_is_unknown_and_sent_once(
    kubernetes: KubernetesConnector, api_server: FakeServer, fault: Reply
) -> None:
    api_server.enqueue("PATCH", DEPLOYMENT + "/scale", fault)
    with pytest.raises(ConnectorOutcomeUnknown, match="may have received the request to patch"):
        await kubernetes.scale_deployment("media", "web", replicas=3)
    assert len(api_server.requests_to("PATCH", DEPLOYMENT + "/scale")) == 1


async def test_a_slow_kubernetes_delete_is_cut_by_the_tool_bound_not_the_connector(
    kubernetes: KubernetesConnector, api_server: FakeServer
) -> None:
    pod = {"metadata": {"name": "web-0", "namespace": "media", "uid": "u-1"}, "status": {}}
    api_server.enqueue("GET", POD, Reply(200, pod))
    api_server.enqueue("DELETE", POD, Reply(200, pod, delay=SLOW))
    with pytest.raises(ToolOutcomeUnknown, match=r"did not finish within 0\.6s") as caught:
        await invoke(
            bounded("delete_k8s_pod"),
            {"namespace": "media", "name": "web-0"},
            context_with(kubernetes=kubernetes),
        )
    assert "whether the pod still exists" in str(caught.value)
    assert len(api_server.requests_to("DELETE", POD)) == 1


async def test_a_kubernetes_read_that_times_out_stays_retryable(
    kubernetes: KubernetesConnector, api_server: FakeServer
) -> None:
    api_server.enqueue("GET", POD, Reply(200, {}, delay=SLOW))
    with pytest.raises(ConnectorUnavailable, match=r"did not answer within 0\.2s"):
        await kubernetes.get_pod("media", "web-0")


def test_every_mutating_tool_gives_up_before_its_connector_would() -> None:
    """The connectors wait this long for a change, so the tool's bound always ends it first."""
    mutating = [tool for tool in ALL_TOOLS if tool.risk.mutates]
    assert mutating
    for tool in mutating:
        assert tool.timeout_seconds < MUTATION_TIMEOUT_SECONDS, tool.name
        assert tool.outcome_check, tool.name
