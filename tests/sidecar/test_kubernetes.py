"""Tasks from the real API server, and per-namespace access with real ServiceAccount tokens.

With ``MC_SIDECAR_AUTH=kubernetes`` a team's ServiceAccount token (from the TokenRequest API,
as ``kubectl create token`` gets it) is reviewed by the API server; the team sees a
namespace's runs, events, streams, usage and tasks only where it may ``get taskruns``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import httpx
import pytest

from mission_control.connectors import Connectors
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.settings import SidecarSettings
from mission_control.store import Store, UsageEntry
from tests.controlplane.launcher import Cluster
from tests.sidecar.harness import TOKEN, Sidecar, running_sidecar
from tests.sidecar.seed import add_run, append
from tests.sidecar.sse import read_stream

pytestmark = [pytest.mark.postgres, pytest.mark.controlplane]


def task(name: str) -> dict[str, object]:
    return {
        "apiVersion": "missioncontrol.dev/v1alpha1",
        "kind": "Task",
        "metadata": {"name": name},
        "spec": {"prompt": "Look around.", "tools": ["list_k8s_pods"]},
    }


@pytest.fixture
def other_namespace(controlplane: Cluster) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    controlplane.kubectl("create", "namespace", name)
    yield name
    controlplane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def team_token(crds: Cluster, k8s_namespace: str) -> str:
    """A ServiceAccount of ``k8s_namespace`` that may get and list taskruns there, and its token."""
    crds.kubectl("create", "serviceaccount", "team", "-n", k8s_namespace)
    crds.kubectl(
        "create", "role", "runs-reader", "-n", k8s_namespace,
        "--verb=get,list", "--resource=taskruns.missioncontrol.dev",
    )  # fmt: skip
    crds.kubectl(
        "create", "rolebinding", "team-reads-runs", "-n", k8s_namespace,
        "--role=runs-reader", f"--serviceaccount={k8s_namespace}:team",
    )  # fmt: skip
    return crds.kubectl(
        "create", "token", "team", "-n", k8s_namespace, "--duration=10m"
    ).stdout.strip()


@pytest.fixture
async def kube_sidecar(reader: Store, crds: Cluster) -> AsyncIterator[Sidecar]:
    connector = KubernetesConnector.from_kubeconfig(crds.kubeconfig)
    settings = SidecarSettings.model_validate(
        {"api_auth_token": TOKEN, "MC_SIDECAR_AUTH": "kubernetes"}
    )
    try:
        async with running_sidecar(
            reader, connectors=Connectors(kubernetes=connector), settings=settings
        ) as sidecar:
            yield sidecar
    finally:
        await connector.aclose()


def as_team(sidecar: Sidecar, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=sidecar.url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0
    )


async def test_tasks_come_from_the_api_server_with_their_ready_condition(
    crds: Cluster, k8s_namespace: str, kube_sidecar: Sidecar
) -> None:
    crds.kubectl("apply", "-n", k8s_namespace, "-f", "-", input=json.dumps(task("look")))
    crds.kubectl(
        "patch", "task", "look", "-n", k8s_namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"conditions": [{
            "type": "Ready", "status": "True", "reason": "Resolved", "message": "ok",
            "lastTransitionTime": "2025-01-01T00:00:00Z",
        }]}}),
    )  # fmt: skip

    listed = (await kube_sidecar.client.get("/api/v1/tasks")).json()
    one = await kube_sidecar.client.get(f"/api/v1/tasks/{k8s_namespace}/look")
    missing = await kube_sidecar.client.get(f"/api/v1/tasks/{k8s_namespace}/absent")

    mine = [t for t in listed["items"] if t["namespace"] == k8s_namespace]
    assert [(t["name"], t["ready"], t["ready_reason"]) for t in mine] == [
        ("look", "True", "Resolved")
    ]
    assert one.json()["spec"]["tools"] == ["list_k8s_pods"]
    assert missing.status_code == 404


async def test_a_team_token_sees_only_its_namespace(
    crds: Cluster,
    store: Store,
    k8s_namespace: str,
    other_namespace: str,
    team_token: str,
    kube_sidecar: Sidecar,
) -> None:
    mine = await add_run(store, namespace=k8s_namespace, name="ours")
    await append(store, mine, "run.started")
    await append(store, mine, "run.finished", reason="Succeeded")
    theirs = await add_run(store, namespace=other_namespace, name="theirs")
    await append(store, theirs, "run.started")
    for namespace in (k8s_namespace, other_namespace):
        crds.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(task("look")))

    async with as_team(kube_sidecar, team_token) as team:
        runs = (await team.get("/api/v1/task-runs")).json()
        asked_for_theirs = (
            await team.get("/api/v1/task-runs", params={"namespace": other_namespace})
        ).json()
        own = await team.get(f"/api/v1/task-runs/{k8s_namespace}/ours")
        own_stream = await read_stream(
            team, f"/api/v1/task-runs/{k8s_namespace}/ours/events/stream"
        )
        other = await team.get(f"/api/v1/task-runs/{other_namespace}/theirs")
        other_events = await team.get(f"/api/v1/task-runs/{other_namespace}/theirs/events")
        other_stream = await team.get(f"/api/v1/task-runs/{other_namespace}/theirs/events/stream")
        tasks = (await team.get("/api/v1/tasks")).json()
        other_task = await team.get(f"/api/v1/tasks/{other_namespace}/look")
    everything = (await kube_sidecar.client.get("/api/v1/task-runs")).json()

    assert [r["name"] for r in runs["items"]] == ["ours"]
    assert asked_for_theirs["items"] == []
    assert own.status_code == 200
    assert own_stream.types == ["run.started", "run.finished"]
    assert (other.status_code, other_events.status_code, other_stream.status_code) == (
        403, 403, 403,
    )  # fmt: skip
    assert other.json()["error"] == "forbidden"
    assert [t["namespace"] for t in tasks["items"]] == [k8s_namespace]
    assert other_task.status_code == 403
    assert {r["name"] for r in everything["items"]} == {"ours", "theirs"}


async def test_usage_is_filtered_to_the_team_namespaces(
    store: Store, k8s_namespace: str, other_namespace: str, team_token: str, kube_sidecar: Sidecar
) -> None:
    for n, namespace in enumerate((k8s_namespace, other_namespace)):
        run = await add_run(store, namespace=namespace)
        entry = UsageEntry(
            run_uid=run.uid, namespace=namespace, provider="gemini", model="flash",
            prompt_tokens=10 * (n + 1), completion_tokens=0, cost_usd=Decimal("0.01"),
        )  # fmt: skip
        await store.usage.record(entry, key="k")

    async with as_team(kube_sidecar, team_token) as team:
        usage = (await team.get("/api/v1/usage/tokens")).json()
        per_namespace = (await team.get("/api/v1/usage/namespaces")).json()
    everything = (await kube_sidecar.client.get("/api/v1/usage/tokens")).json()

    assert usage["total_tokens"] == 10
    assert [row["namespace"] for row in per_namespace["items"]] == [k8s_namespace]
    assert per_namespace["total_tokens"] == 10
    assert everything["total_tokens"] == 30


async def test_a_token_the_api_server_refuses_is_401(kube_sidecar: Sidecar) -> None:
    async with as_team(kube_sidecar, "not.a.real.token") as stranger:
        response = await stranger.get("/api/v1/task-runs")

    assert response.status_code == 401
    assert "not.a.real.token" not in response.text
