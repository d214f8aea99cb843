"""Tasks and runs mirror their custom resources and outlive them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from mission_control.store import Store, TaskSnapshot
from tests.store.helpers import create_run, make_run_snapshot

pytestmark = pytest.mark.postgres


async def test_a_run_is_stored_then_updated_in_place(store: Store) -> None:
    snapshot = make_run_snapshot(name="crashloops-1")
    created = await store.runs.upsert_run(snapshot)
    finished_at = dt.datetime.now(dt.UTC)

    updated = await store.runs.upsert_run(
        dataclasses.replace(
            snapshot,
            succeeded="True",
            reason="Succeeded",
            message="done",
            completion_time=finished_at,
            steps=3,
            prompt_tokens=5120,
            completion_tokens=410,
            cost_usd=Decimal("0.0012"),
        )
    )

    assert created.reason == "Pending"
    assert (updated.uid, updated.succeeded, updated.reason, updated.steps) == (
        snapshot.uid,
        "True",
        "Succeeded",
        3,
    )
    assert updated.completion_time == finished_at
    assert updated.cost_usd == Decimal("0.0012")
    assert updated.spec == snapshot.spec
    assert await store.runs.get(snapshot.uid) == updated


async def test_updating_a_run_keeps_its_journal_position(store: Store) -> None:
    snapshot = make_run_snapshot()
    await store.runs.upsert_run(snapshot)
    await store.journal.append(run_uid=snapshot.uid, type="run.started", payload={})

    updated = await store.runs.upsert_run(dataclasses.replace(snapshot, reason="Running"))

    assert updated.last_seq == 1
    event = await store.journal.append(run_uid=snapshot.uid, type="run.status", payload={})
    assert event.seq == 2


async def test_find_returns_the_newest_run_of_a_reused_name(store: Store) -> None:
    older = make_run_snapshot(name="nightly")
    newer = dataclasses.replace(
        make_run_snapshot(name="nightly"), created_at=older.created_at + dt.timedelta(hours=1)
    )
    await store.runs.upsert_run(older)
    await store.runs.upsert_run(newer)

    found = await store.runs.find(namespace="ops", name="nightly")

    assert found is not None
    assert found.uid == newer.uid
    assert await store.runs.find(namespace="media", name="nightly") is None


async def test_runs_are_listed_newest_first_with_filters(store: Store) -> None:
    first = await create_run(store, namespace="ops", task="diagnose")
    second = await create_run(store, namespace="ops", task="restart")
    third = await create_run(store, namespace="media", task="diagnose")
    await store.runs.upsert_run(dataclasses.replace(first, reason="Failed", succeeded="False"))

    everything = await store.runs.list_runs()
    in_ops = await store.runs.list_runs(namespace="ops")
    diagnose = await store.runs.list_runs(task="diagnose")
    failed = await store.runs.list_runs(reason="Failed")
    latest = await store.runs.list_runs(limit=1)

    assert [r.uid for r in everything] == [third.uid, second.uid, first.uid]
    assert [r.uid for r in in_ops] == [second.uid, first.uid]
    assert [r.uid for r in diagnose] == [third.uid, first.uid]
    assert [r.uid for r in failed] == [first.uid]
    assert [r.uid for r in latest] == [third.uid]


def make_task(name: str, *, generation: int = 1) -> TaskSnapshot:
    return TaskSnapshot(
        uid=str(uuid.uuid4()),
        namespace="ops",
        name=name,
        generation=generation,
        spec={"prompt": "p", "tools": ["list_k8s_pods"]},
        ready_reason="Valid",
        created_at=dt.datetime.now(dt.UTC),
    )


async def test_a_deleted_task_stays_in_history_but_leaves_the_list(store: Store) -> None:
    kept = make_task("kept")
    gone = make_task("gone")
    await store.tasks.upsert_task(kept)
    await store.tasks.upsert_task(gone)
    await store.tasks.upsert_task(dataclasses.replace(kept, generation=2, spec={"prompt": "q"}))

    await store.tasks.mark_deleted(gone.uid)

    listed = await store.tasks.list_tasks(namespace="ops")
    assert [(t.name, t.generation, t.spec) for t in listed] == [("kept", 2, {"prompt": "q"})]
    history = await store.tasks.find(namespace="ops", name="gone")
    assert history is not None
    assert history.deleted_at is not None


async def test_set_reason_changes_only_the_reason_and_message(store: Store) -> None:
    snapshot = dataclasses.replace(make_run_snapshot(name="held-1"), steps=2, reason="Running")
    await store.runs.upsert_run(snapshot)

    await store.runs.set_reason(snapshot.uid, reason="AwaitingApproval", message="held")
    held = await store.runs.get(snapshot.uid)

    assert held is not None
    assert (held.reason, held.message, held.steps) == ("AwaitingApproval", "held", 2)
