"""Per-identity Kubernetes clients are bounded: the least recently used one is evicted and its
connection pool closed (a scripted API server answers; the identities need no RBAC here)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from kubernetes import client as k8s

from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.connectors.kubernetes.client import MAX_IDENTITIES
from mission_control.connectors.kubernetes.identities import IdentityCache
from tests.fakes.server import FakeServer, Reply

PODS = r"/api/v1/namespaces/media/pods"


@pytest.fixture
def api_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        server.route("GET", PODS, lambda request, match: Reply(200, {"items": []}))
        yield server


@pytest.fixture
async def connector(api_server: FakeServer) -> AsyncIterator[KubernetesConnector]:
    connector = KubernetesConnector(k8s.Configuration(host=api_server.url), timeout=5)
    yield connector
    await connector.aclose()


def agent(number: int) -> str:
    return f"system:serviceaccount:team-{number}:agent"


async def test_the_65th_identity_evicts_the_least_recently_used_and_closes_its_pool(
    connector: KubernetesConnector, api_server: FakeServer
) -> None:
    assert MAX_IDENTITIES == 64
    for number in range(MAX_IDENTITIES):
        await connector.list_pods("media", impersonate=agent(number))
        if number == 1:  # the pool the 65th identity should close (looked up while newest)
            with connector._clients.use(agent(1)) as apis:
                pool_manager = apis.client.rest_client.pool_manager
    await connector.list_pods("media", impersonate=agent(0))  # now team-1 is the oldest
    assert len(pool_manager.pools) == 1  # one open pool to the API server

    await connector.list_pods("media", impersonate=agent(MAX_IDENTITIES))

    cached = connector.cached_identities
    assert len(cached) == MAX_IDENTITIES
    assert agent(1) not in cached
    assert (cached[0], cached[-2], cached[-1]) == (agent(2), agent(0), agent(MAX_IDENTITIES))
    assert len(pool_manager.pools) == 0  # closed
    seen = {r.headers["impersonate-user"] for r in api_server.requests_to("GET", PODS)}
    assert len(seen) == MAX_IDENTITIES + 1


def test_a_client_evicted_while_in_use_is_closed_after_its_last_call() -> None:
    closed: list[str] = []
    cache: IdentityCache[str] = IdentityCache(
        limit=1, create=lambda identity: f"client of {identity}", close=closed.append
    )
    with cache.use("a") as first:
        with cache.use("b"):
            assert closed == []  # "a" is evicted but still in use
        assert cache.identities() == ["b"]
        assert first == "client of a"
    assert closed == ["client of a"]
    cache.close_all()
    assert closed == ["client of a", "client of b"]
