"""The run journal: seq assignment, reading back, live following and conversations."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest

from mission_control.store import EVENTS_CHANNEL, RecordNotFound, Store
from tests.store.helpers import create_run

pytestmark = pytest.mark.postgres


async def test_append_numbers_events_from_one_per_run(store: Store) -> None:
    first = await create_run(store)
    second = await create_run(store)

    a1 = await store.journal.append(run_uid=first.uid, type="run.started", payload={"n": 1})
    b1 = await store.journal.append(run_uid=second.uid, type="run.started", payload={})
    a2 = await store.journal.append(run_uid=first.uid, type="run.status", payload={"n": 2})

    assert (a1.seq, a2.seq, b1.seq) == (1, 2, 1)
    assert await store.journal.last_seq(first.uid) == 2


async def test_events_come_back_in_order_with_their_payload(store: Store) -> None:
    run = await create_run(store)
    payloads = [
        {"step": i, "text": "ünïcode ✓", "nested": {"list": [1, 2.5, None]}} for i in range(5)
    ]
    for payload in payloads:
        await store.journal.append(run_uid=run.uid, type="llm.response", payload=payload)

    events = await store.journal.events_after(run.uid, 0)

    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert [e.payload for e in events] == payloads
    assert all(e.type == "llm.response" and e.created_at.tzinfo for e in events)


async def test_events_after_skips_what_the_reader_has_seen(store: Store) -> None:
    run = await create_run(store)
    for i in range(6):
        await store.journal.append(run_uid=run.uid, type="run.status", payload={"i": i})

    assert [e.seq for e in await store.journal.events_after(run.uid, 4)] == [5, 6]
    assert [e.seq for e in await store.journal.events_after(run.uid, 1, limit=2)] == [2, 3]
    assert await store.journal.events_after(run.uid, 6) == []


async def test_appending_to_an_unknown_run_is_refused(store: Store) -> None:
    with pytest.raises(RecordNotFound, match="unknown run"):
        await store.journal.append(run_uid="no-such-run", type="run.started", payload={})


async def test_two_writers_on_one_run_get_seqs_without_gaps(database_url: str) -> None:
    per_writer = 60
    async with (
        Store.open(database_url, max_size=4) as writer_a,
        Store.open(database_url, max_size=4) as writer_b,
    ):
        run = await create_run(writer_a)

        async def write(store: Store, name: str) -> list[int]:
            seqs = []
            for i in range(per_writer):
                event = await store.journal.append(
                    run_uid=run.uid, type="tool.result", payload={"writer": name, "i": i}
                )
                seqs.append(event.seq)
            return seqs

        results = await asyncio.gather(
            *(write(writer_a, f"a{k}") for k in range(3)),
            *(write(writer_b, f"b{k}") for k in range(3)),
        )
        stored = await writer_a.journal.events_after(run.uid, 0)

    returned = sorted(seq for seqs in results for seq in seqs)
    assert returned == list(range(1, 6 * per_writer + 1))
    assert [e.seq for e in stored] == returned
    for seqs in results:
        assert seqs == sorted(seqs)  # each writer sees its own events in order


async def test_each_append_is_announced_with_run_and_seq(store: Store) -> None:
    run = await create_run(store)
    async with await psycopg.AsyncConnection.connect(store.db.url, autocommit=True) as listener:
        await listener.execute(f"LISTEN {EVENTS_CHANNEL}")
        await store.journal.append(run_uid=run.uid, type="run.started", payload={})
        await store.journal.append(run_uid=run.uid, type="run.status", payload={})

        received = [
            json.loads(n.payload) async for n in listener.notifies(timeout=10, stop_after=2)
        ]

    assert received == [{"run_uid": run.uid, "seq": 1}, {"run_uid": run.uid, "seq": 2}]


async def test_following_replays_stored_events_then_delivers_new_ones(store: Store) -> None:
    run = await create_run(store)
    other = await create_run(store)
    for i in range(3):
        await store.journal.append(run_uid=run.uid, type="run.status", payload={"i": i})

    async with store.follow(run.uid, after_seq=1) as events:
        replayed = [await anext(events), await anext(events)]
        await store.journal.append(run_uid=other.uid, type="run.status", payload={})
        await store.journal.append(run_uid=run.uid, type="run.finished", payload={"ok": True})
        live = await asyncio.wait_for(anext(events), timeout=10)

    assert [e.seq if e else None for e in replayed] == [2, 3]
    assert live is not None
    assert (live.run_uid, live.seq, live.type) == (run.uid, 4, "run.finished")


async def test_following_yields_none_when_idle(store: Store) -> None:
    run = await create_run(store)

    async with store.follow(run.uid, idle_seconds=0.05) as events:
        tick = await asyncio.wait_for(anext(events), timeout=10)

    assert tick is None


async def test_conversation_joins_recorded_messages_and_lists_open_calls(store: Store) -> None:
    run = await create_run(store)
    system = {"role": "system", "content": "You are careful."}
    user = {"role": "user", "content": "Find crash loops."}
    assistant = {"role": "assistant", "tool_calls": [{"id": "tc-1", "name": "list_k8s_pods"}]}
    await store.journal.append(
        run_uid=run.uid, type="run.started", payload={"messages": [system, user]}
    )
    await store.journal.append(run_uid=run.uid, type="llm.request", payload={"step": 1})
    await store.journal.append(
        run_uid=run.uid, type="llm.response", payload={"messages": [assistant]}
    )
    await store.tool_calls.record_intent(
        run_uid=run.uid,
        tool_call_id="tc-1",
        tool="list_k8s_pods",
        risk="READ_ONLY",
        arguments={"namespace": "media"},
        args_digest="sha256:x",
        decision="Allow",
    )

    conversation = await store.conversation(run.uid)

    assert conversation.messages == (system, user, assistant)
    assert conversation.last_seq == 3
    assert [c.tool_call_id for c in conversation.open_tool_calls] == ["tc-1"]
