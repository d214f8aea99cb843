"""Filling the store the way the operator does, for the sidecar to read."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from mission_control.store import (
    InventoryObservation,
    InventoryRefresh,
    RunRecord,
    Store,
    UsageEntry,
)
from tests.store.helpers import make_run_snapshot

DAY_1 = dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.UTC)
DAY_2 = dt.datetime(2025, 3, 2, 0, 30, tzinfo=dt.UTC)


async def add_run(
    store: Store,
    *,
    namespace: str = "ops",
    name: str | None = None,
    task: str = "diagnose",
    reason: str = "Started",
    created_at: dt.datetime | None = None,
) -> RunRecord:
    snapshot = make_run_snapshot(namespace=namespace, name=name, task=task)
    snapshot = replace(
        snapshot,
        reason=reason,
        provider="ollama",
        model="qwen",
        steps=2,
        prompt_tokens=120,
        completion_tokens=30,
        cost_usd=Decimal("0.0125"),
        created_at=created_at or snapshot.created_at,
    )
    return await store.runs.upsert_run(snapshot)


async def append(store: Store, run: RunRecord, type: str, **payload: object) -> int:
    event = await store.journal.append(run_uid=run.uid, type=type, payload=payload)
    return event.seq


async def add_usage(store: Store) -> None:
    ops = await add_run(store, namespace="ops", task="diagnose")
    media = await add_run(store, namespace="media", task="restart")
    rows = [
        (ops, "gemini", "flash", 100, 10, "0.0001", DAY_1),
        (ops, "gemini", "flash", 200, 20, "0.0002", DAY_1),
        (ops, "ollama", "mistral", 50, 5, "0", DAY_1),
        (media, "gemini", "flash", 1000, 100, "0.0011", DAY_2),
    ]
    for n, (run, provider, model, prompt, completion, cost, at) in enumerate(rows):
        entry = UsageEntry(
            run_uid=run.uid,
            namespace=run.namespace,
            task=run.task_name,
            provider=provider,
            model=model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=Decimal(cost),
        )
        await store.usage.record(entry, key=f"request-{n}", at=at)


async def add_inventory(store: Store) -> None:
    await store.inventory.upsert_snapshot(
        InventoryRefresh(
            hosts=[
                InventoryObservation(
                    id="k8s:node:a", source="kubernetes", kind="node", name="a", live={"ready": 1}
                )
            ],
            workloads=[
                InventoryObservation(
                    id="k8s:deployment:ops:web",
                    source="kubernetes",
                    kind="deployment",
                    name="web",
                    namespace="ops",
                ),
                InventoryObservation(
                    id="k8s:deployment:media:jellyfin",
                    source="kubernetes",
                    kind="deployment",
                    name="jellyfin",
                    namespace="media",
                ),
            ],
            services=[
                InventoryObservation(
                    id="svc:ops:web",
                    source="kubernetes",
                    kind="service",
                    name="web",
                    namespace="ops",
                )
            ],
            refreshed_sources=frozenset({"kubernetes"}),
        )
    )
