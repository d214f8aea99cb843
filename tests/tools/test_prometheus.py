"""Prometheus: the connector and its tools against a real Prometheus server."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx
import pytest

from mission_control.connectors import Connectors
from mission_control.connectors.errors import ConnectorRequestError, ConnectorUnavailable
from mission_control.connectors.prometheus import PrometheusConnector
from mission_control.settings import PrometheusSettings
from mission_control.tools.base import InvalidToolArguments, ToolContext
from mission_control.tools.registry import default_registry, invoke
from tests.fixtures.prometheus import RunningPrometheus

pytestmark = pytest.mark.prometheus


@pytest.fixture
async def connector(prometheus: RunningPrometheus) -> AsyncIterator[PrometheusConnector]:
    connector = PrometheusConnector.from_settings(PrometheusSettings(url=prometheus.url))
    yield connector
    await connector.aclose()


def context(connector: PrometheusConnector) -> ToolContext:
    return ToolContext(connectors=Connectors(prometheus=connector))


async def test_instant_query_returns_one_row_per_series(connector: PrometheusConnector) -> None:
    tool = default_registry().get("query_prometheus")
    output = await invoke(tool, {"query": "mc_test_temperature_celsius"}, context(connector))
    lines = output.text.splitlines()
    assert lines[0].startswith("2 series at ")
    assert lines[1].startswith('common labels: {instance="127.0.0.1:')
    assert lines[1].endswith('",job="target"}')
    assert lines[2].split() == ["VALUE", "SERIES"]
    assert sorted(line.split() for line in lines[3:]) == [
        ["19", 'mc_test_temperature_celsius{room="attic"}'],
        ["21.5", 'mc_test_temperature_celsius{room="lab"}'],
    ]
    assert {s["labels"]["room"] for s in output.raw["series"]} == {"attic", "lab"}


async def test_aggregations_and_scalars_render_compactly(connector: PrometheusConnector) -> None:
    tool = default_registry().get("query_prometheus")
    summed = await invoke(tool, {"query": "sum(mc_test_temperature_celsius)"}, context(connector))
    assert summed.text.splitlines()[1:] == ["VALUE  SERIES", "40.5   {}"]
    scalar = await invoke(tool, {"query": "scalar(vector(2) * 3)"}, context(connector))
    assert scalar.text.startswith("scalar: 6 at ")


async def test_empty_result_says_so(connector: PrometheusConnector) -> None:
    tool = default_registry().get("query_prometheus")
    output = await invoke(tool, {"query": "mc_test_no_such_metric"}, context(connector))
    assert output.text == "no series match (empty result)"


async def test_bad_promql_hands_back_prometheus_error(connector: PrometheusConnector) -> None:
    tool = default_registry().get("query_prometheus")
    with pytest.raises(ConnectorRequestError) as caught:
        await invoke(tool, {"query": "sum(rate(up[5m]"}, context(connector))
    message = str(caught.value)
    assert "rejected the query (bad_data)" in message
    assert "unclosed left parenthesis" in message


async def test_range_query_summarises_each_series(
    connector: PrometheusConnector, prometheus: RunningPrometheus
) -> None:
    tool = default_registry().get("query_prometheus_range")
    output = await invoke(
        tool,
        {
            "query": 'mc_test_temperature_celsius{room="lab"}',
            "duration_minutes": 5,
            "step_seconds": 1,
        },
        context(connector),
    )
    head, columns, row = output.text.splitlines()
    assert head.endswith("step 1s")
    assert head.startswith("1 series from ")
    assert columns.split() == ["MIN", "MAX", "LAST", "POINTS", "SERIES"]
    assert row.split()[:3] == ["21.5", "21.5", "21.5"]
    assert int(row.split()[3]) >= 1


async def test_range_query_rejects_too_many_points_before_asking(
    connector: PrometheusConnector,
) -> None:
    tool = default_registry().get("query_prometheus_range")
    with pytest.raises(InvalidToolArguments, match="use a larger step_seconds"):
        await invoke(
            tool, {"query": "up", "duration_minutes": 10080, "step_seconds": 1}, context(connector)
        )


async def test_range_query_picks_a_step_when_none_is_given(connector: PrometheusConnector) -> None:
    tool = default_registry().get("query_prometheus_range")
    output = await invoke(tool, {"query": "up", "duration_minutes": 60}, context(connector))
    assert output.text.splitlines()[0].endswith("step 15s")


async def test_check_passes_against_a_running_server(connector: PrometheusConnector) -> None:
    await connector.check()


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
