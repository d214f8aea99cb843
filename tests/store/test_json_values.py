"""Whatever the tools produce is valid JSON by the time it reaches a jsonb column."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import AsyncIterator

import pytest

from mission_control.connectors.prometheus import PrometheusConnector
from mission_control.settings import PrometheusSettings
from mission_control.store import Store
from tests.fixtures.prometheus import RunningPrometheus
from tests.store.helpers import create_run

pytestmark = pytest.mark.postgres


@pytest.fixture
async def prometheus_connector(
    prometheus: RunningPrometheus,
) -> AsyncIterator[PrometheusConnector]:
    connector = PrometheusConnector.from_settings(PrometheusSettings(url=prometheus.url))
    yield connector
    await connector.aclose()


@pytest.mark.prometheus
async def test_prometheus_nan_and_infinities_are_journaled_as_prometheus_strings(
    store: Store, prometheus_connector: PrometheusConnector
) -> None:
    run = await create_run(store)
    results = {
        expr: dataclasses.asdict(await prometheus_connector.query(expr))
        for expr in ("0/0", "1/0", "-1/0")
    }
    values = [r["series"][0]["samples"][0]["value"] for r in results.values()]
    assert math.isnan(values[0])  # the query really produced non-finite floats
    assert values[1:] == [math.inf, -math.inf]

    event = await store.journal.append(run_uid=run.uid, type="tool.result", payload=results)
    (stored,) = await store.journal.events_after(run.uid)

    assert [r["series"][0]["samples"][0]["value"] for r in stored.payload.values()] == [
        "NaN",
        "+Inf",
        "-Inf",
    ]
    assert stored == event


async def test_every_jsonb_column_goes_through_the_seam(store: Store) -> None:
    run = await create_run(store)

    await store.tool_calls.record_intent(
        run_uid=run.uid,
        tool_call_id="tc-1",
        tool="query_prometheus",
        risk="READ_ONLY",
        arguments={"threshold": math.nan},
        args_digest="sha256:x",
        decision="Allow",
    )
    entry = await store.audit.append(
        actor="operator", actor_kind="operator", action="tool", target="t", details={"v": -math.inf}
    )

    call = await store.tool_calls.get(run_uid=run.uid, tool_call_id="tc-1")
    assert call is not None
    assert call.arguments == {"threshold": "NaN"}
    assert entry.details == {"v": "-Inf"}
    assert (await store.audit.verify()).ok
