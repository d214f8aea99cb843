"""Token usage: one row per request, summed by day, provider, model, namespace and task."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from mission_control.store import Store, UsageEntry, UsageSum
from tests.store.helpers import create_run

pytestmark = pytest.mark.postgres

DAY_1 = dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.UTC)
DAY_2 = dt.datetime(2025, 3, 2, 0, 30, tzinfo=dt.UTC)


async def seed(store: Store) -> tuple[str, str]:
    """Four requests: three in ops on day 1 (two priced, one local), one in media on day 2."""
    ops = await create_run(store, namespace="ops", task="diagnose")
    media = await create_run(store, namespace="media", task="restart")
    rows = [
        (ops.uid, "ops", "diagnose", "gemini", "flash", 100, 10, "0.0001", DAY_1),
        (ops.uid, "ops", "diagnose", "gemini", "flash", 200, 20, "0.0002", DAY_1),
        (ops.uid, "ops", "diagnose", "ollama", "mistral", 50, 5, "0", DAY_1),
        (media.uid, "media", "restart", "gemini", "flash", 1000, 100, "0.0011", DAY_2),
    ]
    for n, (run_uid, namespace, task, provider, model, prompt, completion, cost, at) in enumerate(
        rows
    ):
        usage = UsageEntry(
            run_uid=run_uid,
            namespace=namespace,
            task=task,
            provider=provider,
            model=model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=Decimal(cost),
        )
        await store.usage.record(usage, key=f"request-{n}", at=at)
    return ops.uid, media.uid


async def test_totals_group_by_utc_day_provider_and_model(store: Store) -> None:
    await seed(store)

    totals = await store.usage.totals()

    summary = [
        (t.day.isoformat(), t.provider, t.model, t.requests, t.total_tokens, t.cost_usd)
        for t in totals
    ]
    assert summary == [
        ("2025-03-01", "gemini", "flash", 2, 330, Decimal("0.0003")),
        ("2025-03-01", "ollama", "mistral", 1, 55, Decimal("0")),
        ("2025-03-02", "gemini", "flash", 1, 1100, Decimal("0.0011")),
    ]


async def test_totals_filter_by_time_namespace_and_task(store: Store) -> None:
    await seed(store)

    since_day_2 = await store.usage.totals(since=dt.datetime(2025, 3, 2, tzinfo=dt.UTC))
    until_day_2 = await store.usage.totals(until=dt.datetime(2025, 3, 2, tzinfo=dt.UTC))
    in_ops = await store.usage.totals(namespace="ops", task="diagnose")
    no_match = await store.usage.totals(namespace="ops", task="restart")

    assert [t.day for t in since_day_2] == [dt.date(2025, 3, 2)]
    assert {t.day for t in until_day_2} == {dt.date(2025, 3, 1)}
    assert sum(t.requests for t in in_ops) == 3
    assert no_match == []


async def test_day_total_sums_one_namespace_for_daily_budgets(store: Store) -> None:
    await seed(store)

    ops_day_1 = await store.usage.day_total(namespace="ops", day=dt.date(2025, 3, 1))
    ops_day_2 = await store.usage.day_total(namespace="ops", day=dt.date(2025, 3, 2))

    assert ops_day_1 == UsageSum(
        requests=3,
        prompt_tokens=350,
        completion_tokens=35,
        total_tokens=385,
        cost_usd=Decimal("0.0003"),
    )
    assert (ops_day_2.requests, ops_day_2.total_tokens, ops_day_2.cost_usd) == (0, 0, Decimal(0))


async def test_run_total_sums_one_run(store: Store) -> None:
    _, media = await seed(store)

    total = await store.usage.run_total(media)

    assert (total.requests, total.total_tokens, total.cost_usd) == (1, 1100, Decimal("0.0011"))


async def test_usage_links_to_the_recorded_request(store: Store) -> None:
    run = await create_run(store)
    request_id = await store.llm.record_request(
        run_uid=run.uid,
        key="step-1",
        step=1,
        provider="ollama",
        model="mistral",
        messages=[{"role": "user", "content": "hi"}],
        tools=[],
    )
    await store.llm.record_response(
        request_id=request_id,
        run_uid=run.uid,
        content={"text": "hello"},
        latency_ms=42.0,
        finish_reason="stop",
        prompt_tokens=3,
        completion_tokens=1,
    )

    await store.usage.record(
        UsageEntry(
            run_uid=run.uid,
            provider="ollama",
            model="mistral",
            namespace="ops",
            prompt_tokens=3,
            completion_tokens=1,
            request_id=request_id,
        ),
        key="step-1",
    )

    assert (await store.usage.run_total(run.uid)).total_tokens == 4
