"""The static bearer token: none, wrong, right; read-only methods; no token at start-up."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from mission_control.connectors import Connectors
from mission_control.errors import ConfigError
from mission_control.settings import SidecarSettings
from mission_control.sidecar import build_services
from mission_control.sidecar.auth import _TtlCache
from mission_control.store import Store
from tests.sidecar.harness import TOKEN, Sidecar, running_sidecar, serve

pytestmark = pytest.mark.postgres

PROTECTED = [
    "/api/v1/task-runs",
    "/api/v1/task-runs/ops/x",
    "/api/v1/task-runs/ops/x/events",
    "/api/v1/task-runs/ops/x/events/stream",
    "/api/v1/usage/tokens",
    "/api/v1/inventory",
    "/api/v1/inventory/hosts",
    "/api/v1/tasks",
]


async def test_no_token_is_401_in_json(sidecar: Sidecar) -> None:
    async with sidecar.anonymous() as anonymous:
        for path in PROTECTED:
            response = await anonymous.get(path)
            assert response.status_code == 401, path
            assert response.json()["error"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"


async def test_a_wrong_token_is_401_and_never_echoed(sidecar: Sidecar) -> None:
    wrong = "not-the-token-" + "x" * 20
    async with sidecar.anonymous() as anonymous:
        for path in PROTECTED:
            response = await anonymous.get(path, headers={"Authorization": f"Bearer {wrong}"})
            assert response.status_code == 401, path
            assert wrong not in response.text


async def test_the_right_token_is_let_in(sidecar: Sidecar) -> None:
    response = await sidecar.client.get("/api/v1/task-runs")

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


async def test_write_methods_are_405_even_with_the_right_token(sidecar: Sidecar) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/api/v1/task-runs", "/api/v1/task-runs/ops/x", "/api/v1/health"):
            response = await sidecar.client.request(method, path, json={})
            assert response.status_code == 405, (method, path)
            assert response.json()["error"] == "method_not_allowed"
            assert "GET" in response.headers["allow"]


async def test_no_token_at_start_up_is_a_config_error_naming_the_variable(reader: Store) -> None:
    with pytest.raises(ConfigError, match=r"^API_AUTH_TOKEN: is not set"):
        build_services(SidecarSettings.model_validate({}), store=reader, connectors=Connectors())


async def test_insecure_no_auth_serves_without_a_token_and_warns(
    reader: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mission_control.sidecar.app")
    services = build_services(
        SidecarSettings.model_validate({}), store=reader, connectors=Connectors(), insecure=True
    )
    async with serve(services) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/api/v1/task-runs")

    assert response.status_code == 200
    assert any("WITHOUT authentication" in r.getMessage() for r in caplog.records)


async def test_kubernetes_mode_without_kubernetes_is_a_config_error(reader: Store) -> None:
    settings = SidecarSettings.model_validate(
        {"api_auth_token": TOKEN, "MC_SIDECAR_AUTH": "kubernetes"}
    )
    with pytest.raises(ConfigError, match=r"^MC_SIDECAR_AUTH:"):
        build_services(settings, store=reader, connectors=Connectors())


async def test_half_a_tls_pair_is_a_config_error(reader: Store) -> None:
    settings = SidecarSettings.model_validate(
        {"api_auth_token": TOKEN, "MC_SIDECAR_TLS_CERT": "/etc/tls.crt"}
    )
    with pytest.raises(ConfigError, match=r"^MC_SIDECAR_TLS_KEY:"):
        build_services(settings, store=reader, connectors=Connectors())


async def test_metrics_count_requests_by_route_and_status(reader: Store) -> None:
    async with running_sidecar(reader) as sidecar:
        await sidecar.client.get("/api/v1/task-runs/ops/missing")
        await sidecar.client.get("/api/v1/task-runs")
        text = (await sidecar.client.get("/metrics")).text

    assert (
        'mission_control_sidecar_requests_total{method="GET",'
        'route="/api/v1/task-runs/{namespace}/{name}",status="404"} 1.0'
    ) in text
    assert 'route="/api/v1/task-runs",status="200"} 1.0' in text
    assert "mission_control_sse_clients 0.0" in text


async def test_review_answers_are_shared_while_fresh_and_failures_are_not_kept() -> None:
    cache: _TtlCache[str, int] = _TtlCache(ttl=60.0)
    asked: list[str] = []
    gate = asyncio.Event()

    async def review() -> int:
        asked.append("asked")
        await gate.wait()
        return len(asked)

    waiting = [asyncio.create_task(cache.get("token", review)) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    answers = await asyncio.gather(*waiting)

    async def failing() -> int:
        raise RuntimeError("API server away")

    other = _TtlCache[str, int](ttl=60.0)
    with pytest.raises(RuntimeError):
        await other.get("token", failing)
    recovered = await other.get("token", review)

    assert answers == [1] * 50  # fifty callers, one question
    assert recovered == 2  # asked again after the failure
