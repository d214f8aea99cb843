"""The Prometheus connector: health check, wrong URLs, query deadlines, secrets in URLs."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

import httpx
import pytest

from mission_control.connectors.errors import ConnectorRequestError, ConnectorUnavailable
from mission_control.connectors.prometheus import PrometheusConnector
from mission_control.settings import PrometheusSettings
from tests.fixtures.prometheus import RunningPrometheus

pytestmark = pytest.mark.prometheus


async def test_check_passes_against_a_running_server(
    prometheus_connector: PrometheusConnector,
) -> None:
    await prometheus_connector.check()


async def test_wrong_url_is_reported_as_not_prometheus(prometheus: RunningPrometheus) -> None:
    target = prometheus.target.server.url
    connector = PrometheusConnector.from_settings(PrometheusSettings(url=target))
    try:
        with pytest.raises(ConnectorUnavailable, match="check that PROMETHEUS_URL points at"):
            await connector.check()
    finally:
        await connector.aclose()


async def test_every_query_asks_prometheus_to_stop_evaluating_before_we_stop_waiting() -> None:
    forms: list[dict[str, list[str]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        forms.append(parse_qs(request.content.decode()))
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "vector", "result": []}}
        )

    url = "http://prometheus.test:9090"
    client = httpx.AsyncClient(base_url=url, transport=httpx.MockTransport(answer))
    connector = PrometheusConnector(client=client, url=url, timeout_seconds=10)
    try:
        await connector.query("up")
        now = dt.datetime.now(dt.UTC)
        await connector.query_range(
            "up", start=now - dt.timedelta(hours=1), end=now, step_seconds=60
        )
    finally:
        await connector.aclose()
    assert [form["timeout"] for form in forms] == [["8.000"], ["8.000"]]


async def test_a_query_prometheus_stopped_says_how_to_narrow_it() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        # What Prometheus sends when a query exceeds its evaluation timeout.
        body = {
            "status": "error",
            "errorType": "timeout",
            "error": "query timed out in expression evaluation",
        }
        return httpx.Response(503, json=body)

    url = "http://prometheus.test:9090"
    client = httpx.AsyncClient(base_url=url, transport=httpx.MockTransport(answer))
    connector = PrometheusConnector(client=client, url=url, timeout_seconds=10)
    try:
        with pytest.raises(ConnectorUnavailable) as caught:
            await connector.query('count({__name__=~".+"})')
    finally:
        await connector.aclose()
    assert str(caught.value) == (
        f"Prometheus at {url} stopped the query after 8s (query timed out in expression "
        "evaluation); narrow it: fewer series, a shorter range or a larger step"
    )


async def test_credentials_in_the_url_stay_out_of_errors_and_repr(
    prometheus: RunningPrometheus,
) -> None:
    port = prometheus.url.rsplit(":", 1)[1]
    with_credentials = prometheus.url.replace("://", "://proxy-user:proxy-s3cret@")
    connector = PrometheusConnector.from_settings(PrometheusSettings(url=with_credentials))
    try:
        await connector.check()  # the credentials are still used to reach the server
        with pytest.raises(ConnectorRequestError) as caught:
            await connector.query("sum(")
    finally:
        await connector.aclose()
    shown = str(caught.value) + repr(connector)
    assert f"Prometheus at http://127.0.0.1:{port}" in shown
    assert "proxy-s3cret" not in shown
    assert "proxy-user" not in shown
