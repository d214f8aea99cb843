"""Tool call records move from intent to exactly one outcome; definitions are upserted."""

from __future__ import annotations

import pytest

from mission_control.store import (
    InvalidTransition,
    RecordNotFound,
    Store,
    StoreRejected,
    ToolCallRecord,
    ToolDefinitionRecord,
)
from tests.store.helpers import create_run

pytestmark = pytest.mark.postgres


async def record(store: Store, run_uid: str, tool_call_id: str = "tc-1") -> ToolCallRecord:
    return await store.tool_calls.record_intent(
        run_uid=run_uid,
        tool_call_id=tool_call_id,
        tool="restart_k8s_deployment",
        risk="SAFE_MUTATE",
        arguments={"namespace": "media", "name": "web"},
        args_digest="sha256:abc",
        decision="Allow",
        approver="alice",
    )


async def test_an_intent_is_stored_before_the_call_runs(store: Store) -> None:
    run = await create_run(store)

    intent = await record(store, run.uid)

    assert intent.status == "intent"
    assert intent.finished_at is None
    assert await store.tool_calls.get(run_uid=run.uid, tool_call_id="tc-1") == intent
    assert await store.tool_calls.open_calls(run.uid) == [intent]


async def test_completing_a_call_records_digest_and_duration(store: Store) -> None:
    run = await create_run(store)
    await record(store, run.uid)

    done = await store.tool_calls.complete(
        run_uid=run.uid, tool_call_id="tc-1", output_digest="sha256:out", duration_ms=12.5
    )

    assert (done.status, done.output_digest, done.duration_ms) == ("completed", "sha256:out", 12.5)
    assert done.finished_at is not None
    assert await store.tool_calls.open_calls(run.uid) == []


async def test_a_failed_call_keeps_its_error_and_measures_duration(store: Store) -> None:
    run = await create_run(store)
    await record(store, run.uid)

    failed = await store.tool_calls.fail(run_uid=run.uid, tool_call_id="tc-1", error="timed out")

    assert (failed.status, failed.error) == ("failed", "timed out")
    assert failed.duration_ms is not None
    assert failed.duration_ms >= 0


async def test_an_open_call_found_after_a_restart_becomes_unknown(store: Store) -> None:
    run = await create_run(store)
    await record(store, run.uid, "tc-1")
    await record(store, run.uid, "tc-2")
    await store.tool_calls.complete(run_uid=run.uid, tool_call_id="tc-1", output_digest="d")

    (left_open,) = await store.tool_calls.open_calls(run.uid)
    unknown = await store.tool_calls.mark_unknown(
        run_uid=run.uid, tool_call_id=left_open.tool_call_id, reason="operator restarted"
    )

    assert (unknown.tool_call_id, unknown.status) == ("tc-2", "unknown")
    statuses = [r.status for r in await store.tool_calls.for_run(run.uid)]
    assert statuses == ["completed", "unknown"]


async def test_resolving_twice_the_same_way_is_harmless(store: Store) -> None:
    run = await create_run(store)
    await record(store, run.uid)
    first = await store.tool_calls.complete(run_uid=run.uid, tool_call_id="tc-1", output_digest="d")

    again = await store.tool_calls.complete(run_uid=run.uid, tool_call_id="tc-1", output_digest="d")

    assert again == first


async def test_a_resolved_call_cannot_change_its_outcome(store: Store) -> None:
    run = await create_run(store)
    await record(store, run.uid)
    await store.tool_calls.complete(run_uid=run.uid, tool_call_id="tc-1", output_digest="d")

    with pytest.raises(InvalidTransition, match="already completed, it cannot become failed"):
        await store.tool_calls.fail(run_uid=run.uid, tool_call_id="tc-1", error="late")


async def test_resolving_an_unknown_call_is_an_error(store: Store) -> None:
    run = await create_run(store)

    with pytest.raises(RecordNotFound, match="no tool call tc-9"):
        await store.tool_calls.complete(run_uid=run.uid, tool_call_id="tc-9", output_digest="d")


async def test_the_same_call_id_is_recorded_once_and_not_for_another_intent(
    store: Store,
) -> None:
    run = await create_run(store)
    first = await record(store, run.uid)

    again = await record(store, run.uid)
    with pytest.raises(StoreRejected, match=r"tool_call_id='tc-1' is already stored"):
        await store.tool_calls.record_intent(
            run_uid=run.uid,
            tool_call_id="tc-1",
            tool="delete_k8s_pod",
            risk="DESTRUCTIVE",
            arguments={},
            args_digest="sha256:def",
            decision="Allow",
        )

    assert again == first


async def test_an_intent_for_an_unknown_run_is_refused(store: Store) -> None:
    with pytest.raises(RecordNotFound):
        await record(store, "no-such-run")


async def test_tool_definitions_are_inserted_then_updated(store: Store) -> None:
    pods = ToolDefinitionRecord(
        name="list_k8s_pods",
        description="List pods.",
        risk="READ_ONLY",
        parameters={"type": "object", "properties": {"namespace": {"type": "string"}}},
        connector="kubernetes",
        timeout_seconds=30,
    )
    delete = ToolDefinitionRecord(
        name="delete_k8s_pod",
        description="Delete one pod.",
        risk="DESTRUCTIVE",
        parameters={"type": "object"},
        timeout_seconds=30,
    )
    await store.tool_definitions.sync([pods, delete])
    changed = ToolDefinitionRecord(
        name="list_k8s_pods",
        description="List pods with their phase.",
        risk="READ_ONLY",
        parameters=pods.parameters,
        connector="kubernetes",
        timeout_seconds=20,
    )

    await store.tool_definitions.sync([changed])

    assert await store.tool_definitions.all() == [delete, changed]
