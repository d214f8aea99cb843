"""Small builders shared by the store tests."""

from __future__ import annotations

import datetime as dt
import uuid

from mission_control.store import RunRecord, RunSnapshot, Store


def make_run_snapshot(
    *, namespace: str = "ops", name: str | None = None, task: str = "diagnose"
) -> RunSnapshot:
    return RunSnapshot(
        uid=str(uuid.uuid4()),
        namespace=namespace,
        name=name or f"run-{uuid.uuid4().hex[:6]}",
        task_name=task,
        spec={"prompt": "Find crash-looping pods", "tools": ["list_k8s_pods"]},
        created_at=dt.datetime.now(dt.UTC),
    )


async def create_run(
    store: Store, *, namespace: str = "ops", name: str | None = None, task: str = "diagnose"
) -> RunRecord:
    return await store.runs.upsert_run(make_run_snapshot(namespace=namespace, name=name, task=task))
