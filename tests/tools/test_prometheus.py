"""Prometheus tools against a real Prometheus server (the connector: tests/connectors/)."""

from __future__ import annotations

import pytest

from mission_control.connectors.errors import ConnectorRequestError
from mission_control.connectors.prometheus import PrometheusConnector
from mission_control.tools.base import InvalidToolArguments
from mission_control.tools.registry import default_registry, invoke
from tests.fixtures.prometheus import RunningPrometheus
from tests.tools.helpers import context_with

pytestmark = pytest.mark.prometheus


async def test_instant_query_returns_one_row_per_series(
    prometheus_connector: PrometheusConnector,
) -> None:
    tool = default_registry().get("query_prometheus")
    output = await invoke(
        tool,
        {"query": "mc_test_temperature_celsius"},
        context_with(prometheus=prometheus_connector),
    )
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


async def test_aggregations_and_scalars_render_compactly(
    prometheus_connector: PrometheusConnector,
) -> None:
    tool = default_registry().get("query_prometheus")
    summed = await invoke(
        tool,
        {"query": "sum(mc_test_temperature_celsius)"},
        context_with(prometheus=prometheus_connector),
    )
    assert summed.text.splitlines()[1:] == ["VALUE  SERIES", "40.5   {}"]
    scalar = await invoke(
        tool, {"query": "scalar(vector(2) * 3)"}, context_with(prometheus=prometheus_connector)
    )
    assert scalar.text.startswith("scalar: 6 at ")


async def test_empty_result_says_so(prometheus_connector: PrometheusConnector) -> None:
    tool = default_registry().get("query_prometheus")
    output = await invoke(
        tool, {"query": "mc_test_no_such_metric"}, context_with(prometheus=prometheus_connector)
    )
    assert output.text == "no series match (empty result)"


async def test_bad_promql_hands_back_prometheus_error(
    prometheus_connector: PrometheusConnector,
) -> None:
    tool = default_registry().get("query_prometheus")
    with pytest.raises(ConnectorRequestError) as caught:
        await invoke(
            tool, {"query": "sum(rate(up[5m]"}, context_with(prometheus=prometheus_connector)
        )
    message = str(caught.value)
    assert "rejected the query (bad_data)" in message
    assert "unclosed left parenthesis" in message


async def test_range_query_summarises_each_series(
    prometheus_connector: PrometheusConnector, prometheus: RunningPrometheus
) -> None:
    tool = default_registry().get("query_prometheus_range")
    output = await invoke(
        tool,
        {
            "query": 'mc_test_temperature_celsius{room="lab"}',
            "duration_minutes": 5,
            "step_seconds": 1,
        },
        context_with(prometheus=prometheus_connector),
    )
    head, columns, row = output.text.splitlines()
    assert head.endswith("step 1s")
    assert head.startswith("1 series from ")
    assert columns.split() == ["MIN", "MAX", "LAST", "POINTS", "SERIES"]
    assert row.split()[:3] == ["21.5", "21.5", "21.5"]
    assert int(row.split()[3]) >= 1


async def test_range_query_rejects_too_many_points_before_asking(
    prometheus_connector: PrometheusConnector,
) -> None:
    tool = default_registry().get("query_prometheus_range")
    with pytest.raises(InvalidToolArguments, match="use a larger step_seconds"):
        await invoke(
            tool,
            {"query": "up", "duration_minutes": 10080, "step_seconds": 1},
            context_with(prometheus=prometheus_connector),
        )


async def test_range_query_picks_a_step_when_none_is_given(
    prometheus_connector: PrometheusConnector,
) -> None:
    tool = default_registry().get("query_prometheus_range")
    output = await invoke(
        tool, {"query": "up", "duration_minutes": 60}, context_with(prometheus=prometheus_connector)
    )
    assert output.text.splitlines()[0].endswith("step 15s")
