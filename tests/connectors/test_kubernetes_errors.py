"""How the Kubernetes connector reports failures: through the official client, over real sockets.

A scripted HTTP server stands in for an API server that misbehaves (slow, overloaded,
throttling), which the real control plane cannot be made to do on demand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from kubernetes import client as k8s

from mission_control.connectors.errors import (
    ConnectorForbidden,
    ConnectorNotConfigured,
    ConnectorRequestError,
    ConnectorUnavailable,
)
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.connectors.kubernetes.errors import Operation, describe_identity
from mission_control.settings import KubernetesSettings
from tests.fakes.server import FakeServer, Reply

PODS = r"/api/v1/namespaces/media/pods"


def status(code: int, reason: str, message: str) -> dict[str, object]:
    """The body the API server sends with an error."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@pytest.fixture
def api_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
async def connector(api_server: FakeServer) -> AsyncIterator[KubernetesConnector]:
    configuration = k8s.Configuration(host=api_server.url)
    connector = KubernetesConnector(configuration, timeout=0.5)
    yield connector
    await connector.aclose()


async def test_a_slow_api_server_times_out_with_the_bound_in_the_message(
    connector: KubernetesConnector, api_server: FakeServer
) -> None:
    api_server.enqueue("GET", "/version/?", Reply(200, {"major": "1"}, delay=1.5))
    with pytest.raises(ConnectorUnavailable, match=r"127\.0\.0\.1:\d+ did not answer within 0.5s"):
        await connector.check()


async def test_server_errors_are_temporary_and_quote_the_status_message(
    connector: KubernetesConnector, api_server: FakeServer
) -> None:
    api_server.enqueue(
        "GET", PODS, Reply(503, status(503, "ServiceUnavailable", "etcd is overloaded"))
    )
    with pytest.raises(ConnectorUnavailable) as err:
        await connector.list_pods("media")
    assert str(err.value) == (
        f"Kubernetes API server {connector.server} failed to list pods in namespace media "
        "(503): etcd is overloaded"
    )


async def test_throttling_carries_retry_after(
    connector: KubernetesConnector, api_server: FakeServer
) -> None:
    api_server.enqueue(
        "GET",
        PODS,
        Reply(
            429,
            status(429, "TooManyRequests", "too many requests"),
            headers={"Retry-After": "3"},
        ),
    )
    with pytest.raises(ConnectorUnavailable, match="throttling") as err:
        await connector.list_pods("media")
    assert err.value.retry_after == 3.0


async def test_a_malformed_answer_is_a_request_error_not_a_crash(
    connector: KubernetesConnector, api_server: FakeServer
) -> None:
    api_server.enqueue("GET", PODS, Reply(200, {"kind": "PodList", "items": [{"spec": 7}]}))
    with pytest.raises(ConnectorRequestError, match=r"unexpected answer .* to list pods"):
        await connector.list_pods("media")


async def test_the_impersonation_header_is_sent_only_for_that_identity(
    connector: KubernetesConnector, api_server: FakeServer
) -> None:
    api_server.route("GET", PODS, lambda request, match: Reply(200, {"items": []}))
    await connector.list_pods("media", impersonate="system:serviceaccount:media:agent")
    await connector.list_pods("media")
    first, second = api_server.requests_to("GET", PODS)
    assert first.headers["impersonate-user"] == "system:serviceaccount:media:agent"
    assert "impersonate-user" not in second.headers
    assert first.headers["user-agent"] == "mission-control"


async def test_forbidden_without_impersonation_points_at_the_operators_role(
    connector: KubernetesConnector, api_server: FakeServer
) -> None:
    message = 'pods "web-0" is forbidden: User "mc" cannot delete resource "pods"'
    api_server.enqueue("DELETE", PODS + "/web-0", Reply(403, status(403, "Forbidden", message)))
    with pytest.raises(ConnectorForbidden) as err:
        await connector.delete_pod("media", "web-0")
    assert str(err.value) == (
        "the operator's own identity may not delete pods in namespace media (RBAC): "
        "grant the operator's ClusterRole this permission"
    )


async def test_forbidden_in_a_namespace_being_deleted_says_so_not_rbac(
    connector: KubernetesConnector, api_server: FakeServer
) -> None:
    message = (
        'pods "web-0" is forbidden: unable to create new content in namespace media because '
        "it is being terminated"
    )
    api_server.enqueue("DELETE", PODS + "/web-0", Reply(403, status(403, "Forbidden", message)))
    with pytest.raises(ConnectorForbidden) as err:
        await connector.delete_pod("media", "web-0")
    assert str(err.value) == (
        "namespace media is being deleted: nothing new can be created in it "
        f"(the API server said: {message})"
    )


def test_identities_read_as_service_accounts_or_users() -> None:
    assert describe_identity("system:serviceaccount:media:agent") == "service account media/agent"
    assert describe_identity("alice") == "user alice"
    assert describe_identity(None) == "the operator's own identity"


def test_operations_name_subresources_and_scopes() -> None:
    log = Operation(verb="get", resource="pods/log", kind="Pod", namespace="media", name="web-0")
    assert log.target() == "log of pod media/web-0"
    assert log.object() == "pod media/web-0"
    assert Operation(verb="list", resource="nodes", kind="Node").target() == "nodes cluster-wide"


async def test_a_body_that_is_not_json_is_a_request_error(
    connector: KubernetesConnector, api_server: FakeServer
) -> None:
    api_server.enqueue("GET", PODS, Reply(200, "<html>proxy login</html>"))
    with pytest.raises(ConnectorRequestError, match="unexpected answer"):
        await connector.list_pods("media")


def test_outside_a_cluster_without_kubeconfig_is_not_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConnectorNotConfigured, match="KUBECONFIG is not set"):
        KubernetesConnector.from_settings(KubernetesSettings(kubeconfig=None))
