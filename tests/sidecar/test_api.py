"""Every endpoint over a real PostgreSQL, read as a role granted SELECT only."""

from __future__ import annotations

import datetime as dt

import pytest

from mission_control.store import Store
from tests.sidecar.harness import Sidecar
from tests.sidecar.seed import add_inventory, add_run, add_usage, append

pytestmark = pytest.mark.postgres


async def test_health_needs_no_token_and_reports_unconfigured_connectors_as_such(
    sidecar: Sidecar,
) -> None:
    async with sidecar.anonymous() as anonymous:
        response = await anonymous.get("/api/v1/health")

    body = response.json()
    assert (response.status_code, body["status"]) == (200, "healthy")
    assert body["details"]["kubernetes"]["configured"] is False
    assert body["connectors"]["database"] is True
    assert body["details"]["database"] == {"configured": True, "reachable": True, "message": ""}
    assert body["details"]["proxmox"]["configured"] is False
    assert body["connectors"]["proxmox"] is False
    assert "PROXMOX_HOST" in body["details"]["proxmox"]["message"]
    assert set(body["connectors"]) == {
        "database", "kubernetes", "proxmox", "prometheus", "argocd", "ollama", "gemini",
        "anthropic",
    }  # fmt: skip
    assert body["version"]
    assert dt.datetime.fromisoformat(body["timestamp"]).tzinfo is not None


async def test_runs_are_listed_newest_first_with_filters(store: Store, sidecar: Sidecar) -> None:
    base = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
    old = await add_run(store, namespace="ops", task="diagnose", created_at=base)
    new = await add_run(
        store, namespace="ops", task="restart", created_at=base + dt.timedelta(hours=1)
    )
    other = await add_run(
        store,
        namespace="media",
        task="diagnose",
        reason="Succeeded",
        created_at=base + dt.timedelta(hours=2),
    )

    everything = (await sidecar.client.get("/api/v1/task-runs")).json()
    in_ops = (await sidecar.client.get("/api/v1/task-runs", params={"namespace": "ops"})).json()
    diagnoses = (await sidecar.client.get("/api/v1/task-runs", params={"task": "diagnose"})).json()
    done = (await sidecar.client.get("/api/v1/task-runs", params={"reason": "Succeeded"})).json()

    assert [r["uid"] for r in everything["items"]] == [other.uid, new.uid, old.uid]
    assert [r["uid"] for r in in_ops["items"]] == [new.uid, old.uid]
    assert [r["uid"] for r in diagnoses["items"]] == [other.uid, old.uid]
    assert [r["uid"] for r in done["items"]] == [other.uid]
    assert everything["next_cursor"] is None
    first = everything["items"][0]
    assert (first["task"], first["total_tokens"], first["cost_usd"]) == ("diagnose", 150, 0.0125)


async def test_cursor_pages_through_runs_without_gaps_or_repeats(
    store: Store, sidecar: Sidecar
) -> None:
    same_time = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)  # ties are broken by uid
    made = {(await add_run(store, created_at=same_time)).uid for _ in range(7)}

    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 3}
    while True:
        page = (await sidecar.client.get("/api/v1/task-runs", params=params)).json()
        seen += [run["uid"] for run in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen)) == 7


async def test_the_default_page_is_fifty_runs(store: Store, sidecar: Sidecar) -> None:
    for _ in range(51):
        await add_run(store)

    page = (await sidecar.client.get("/api/v1/task-runs")).json()

    assert len(page["items"]) == 50
    assert page["next_cursor"] is not None


async def test_one_run_has_its_status_totals_and_spec(store: Store, sidecar: Sidecar) -> None:
    run = await add_run(store, namespace="ops", name="nightly")
    await append(store, run, "run.started")

    response = await sidecar.client.get("/api/v1/task-runs/ops/nightly")

    body = response.json()
    assert response.status_code == 200
    assert (body["uid"], body["reason"], body["steps"], body["events"]) == (
        run.uid, "Started", 2, 1,
    )  # fmt: skip
    assert body["spec"] == run.spec
    assert (body["prompt_tokens"], body["completion_tokens"]) == (120, 30)


async def test_events_come_in_pages_oldest_first(store: Store, sidecar: Sidecar) -> None:
    run = await add_run(store, namespace="ops", name="paged")
    for n in range(5):
        await append(store, run, "llm.request", n=n)

    first = (await sidecar.client.get("/api/v1/task-runs/ops/paged/events?limit=2")).json()
    rest = (
        await sidecar.client.get(
            f"/api/v1/task-runs/ops/paged/events?after={first['next_after']}&limit=10"
        )
    ).json()

    assert [e["seq"] for e in first["items"]] == [1, 2]
    assert first["items"][0]["payload"] == {"n": 0}
    assert first["items"][0]["type"] == "llm.request"
    assert [e["seq"] for e in rest["items"]] == [3, 4, 5]
    assert rest["next_after"] is None


async def test_unknown_runs_are_404_with_a_json_error(sidecar: Sidecar) -> None:
    for path in (
        "/api/v1/task-runs/ops/missing",
        "/api/v1/task-runs/ops/missing/events",
        "/api/v1/task-runs/ops/missing/events/stream",
    ):
        response = await sidecar.client.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"error": "not_found", "message": "no task run ops/missing"}


async def test_usage_is_grouped_by_day_provider_and_model_with_filters(
    store: Store, sidecar: Sidecar
) -> None:
    await add_usage(store)

    everything = (await sidecar.client.get("/api/v1/usage/tokens")).json()
    ops_day_1 = (
        await sidecar.client.get(
            "/api/v1/usage/tokens",
            params={"namespace": "ops", "from": "2025-03-01T00:00:00Z", "to": "2025-03-02"},
        )
    ).json()
    restarts = (await sidecar.client.get("/api/v1/usage/tokens?task=restart")).json()

    rows = [
        (r["day"], r["provider"], r["model"], r["requests"], r["total_tokens"], r["cost_usd"])
        for r in everything["items"]
    ]
    assert rows == [
        ("2025-03-01", "gemini", "flash", 2, 330, 0.0003),
        ("2025-03-01", "ollama", "mistral", 1, 55, 0.0),
        ("2025-03-02", "gemini", "flash", 1, 1100, 0.0011),
    ]
    assert (everything["total_tokens"], everything["cost_usd"]) == (1485, 0.0014)
    assert [r["model"] for r in ops_day_1["items"]] == ["flash", "mistral"]
    assert [(r["day"], r["total_tokens"]) for r in restarts["items"]] == [("2025-03-02", 1100)]


async def test_inventory_all_and_by_kind_and_id(store: Store, sidecar: Sidecar) -> None:
    await add_inventory(store)

    everything = (await sidecar.client.get("/api/v1/inventory")).json()
    host = await sidecar.client.get("/api/v1/inventory/hosts/k8s:node:a")
    workload = await sidecar.client.get("/api/v1/inventory/workloads/k8s:deployment:ops:web")
    missing = await sidecar.client.get("/api/v1/inventory/hosts/k8s:node:zz")
    services = (await sidecar.client.get("/api/v1/inventory/services")).json()
    workloads = (await sidecar.client.get("/api/v1/inventory/workloads")).json()
    hosts = (await sidecar.client.get("/api/v1/inventory/hosts")).json()

    assert [h["id"] for h in everything["hosts"]] == ["k8s:node:a"]
    assert len(everything["workloads"]) == 2
    assert [s["id"] for s in everything["services"]] == ["svc:ops:web"]
    assert host.json()["live"] == {"ready": 1}
    assert workload.json()["namespace"] == "ops"
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert [s["name"] for s in services] == ["web"]
    assert [w["name"] for w in workloads] == ["jellyfin", "web"]
    assert [h["name"] for h in hosts] == ["a"]


async def test_tasks_without_kubernetes_are_503_saying_so(sidecar: Sidecar) -> None:
    response = await sidecar.client.get("/api/v1/tasks")

    assert response.status_code == 503
    assert "Kubernetes is not configured" in response.json()["message"]


async def test_bad_query_parameters_are_400_naming_the_parameter(sidecar: Sidecar) -> None:
    cases = {
        "/api/v1/task-runs?limit=0": "'limit'",
        "/api/v1/task-runs?limit=abc": "'limit'",
        "/api/v1/task-runs?cursor=%%%": "'cursor'",
        "/api/v1/task-runs/ops/x/events?after=-1": "'after'",
        "/api/v1/usage/tokens?from=yesterday": "'from'",
        "/api/v1/usage/tokens?from=2025-03-02&to=2025-03-01": "'to'",
        "/api/v1/usage/namespaces?from=2025-03-02&to=2025-03-01": "'to'",
        # PostgreSQL cannot hold a NUL: found by fuzzing, it was a 500.
        "/api/v1/task-runs?reason=a%00b": "'reason'",
        "/api/v1/task-runs/Not_A_Namespace/x": "'namespace'",
        "/api/v1/tasks/ops/Bad_Name": "'name'",
    }
    for path, parameter in cases.items():
        response = await sidecar.client.get(path)
        assert response.status_code == 400, path
        body = response.json()
        assert body["error"] == "bad_request"
        assert parameter in body["message"], (path, body)


async def test_unknown_paths_are_404_in_json(sidecar: Sidecar) -> None:
    response = await sidecar.client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "no such endpoint"}


async def test_usage_is_summed_per_namespace_within_the_period(
    store: Store, sidecar: Sidecar
) -> None:
    await add_usage(store)  # ops: 3 requests on March 1st; media: 1 on March 2nd

    everything = (await sidecar.client.get("/api/v1/usage/namespaces")).json()
    day_two = (await sidecar.client.get("/api/v1/usage/namespaces?from=2025-03-02")).json()

    assert everything["items"] == [
        {"namespace": "media", "requests": 1, "prompt_tokens": 1000, "completion_tokens": 100,
         "total_tokens": 1100, "cost_usd": 0.0011},
        {"namespace": "ops", "requests": 3, "prompt_tokens": 350, "completion_tokens": 35,
         "total_tokens": 385, "cost_usd": 0.0003},
    ]  # fmt: skip
    assert (everything["total_tokens"], everything["cost_usd"]) == (1485, 0.0014)
    assert [row["namespace"] for row in day_two["items"]] == ["media"]


async def test_usage_bodies_keep_their_field_order(store: Store, sidecar: Sidecar) -> None:
    # Clients may read the JSON as text: the grouping fields come first, then the sums.
    await add_usage(store)
    sums = ["requests", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd"]

    by_day = (await sidecar.client.get("/api/v1/usage/tokens")).json()
    by_namespace = (await sidecar.client.get("/api/v1/usage/namespaces")).json()

    assert list(by_day) == ["items", "total_tokens", "cost_usd"]
    assert list(by_day["items"][0]) == ["day", "provider", "model", *sums]
    assert list(by_namespace) == ["items", "total_tokens", "cost_usd"]
    assert list(by_namespace["items"][0]) == ["namespace", *sums]


async def test_openapi_document_lists_every_endpoint(sidecar: Sidecar) -> None:
    document = (await sidecar.client.get("/api/v1/openapi.json")).json()

    assert set(document["paths"]) == {
        "/api/v1/health",
        "/api/v1/task-runs",
        "/api/v1/task-runs/{namespace}/{name}",
        "/api/v1/task-runs/{namespace}/{name}/events",
        "/api/v1/task-runs/{namespace}/{name}/events/stream",
        "/api/v1/usage/tokens",
        "/api/v1/usage/namespaces",
        "/api/v1/inventory",
        "/api/v1/inventory/hosts",
        "/api/v1/inventory/hosts/{item_id}",
        "/api/v1/inventory/workloads",
        "/api/v1/inventory/workloads/{item_id}",
        "/api/v1/inventory/services",
        "/api/v1/tasks",
        "/api/v1/tasks/{namespace}/{name}",
    }
    runs = document["paths"]["/api/v1/task-runs"]["get"]
    assert "400" in runs["responses"]
    assert "422" not in runs["responses"]
    assert set(document["paths"]["/api/v1/health"]) == {"get"}
