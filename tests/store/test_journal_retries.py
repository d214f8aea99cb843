"""The journal under retries and cancellation: appends land exactly once, connections survive."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest
from psycopg.types.json import Jsonb

from mission_control.store import EVENTS_CHANNEL, Store, StoreRejected
from tests.store.helpers import create_run

pytestmark = pytest.mark.postgres


async def wait_until_blocked_on_a_lock(url: str, *, count: int = 1) -> None:
    """Poll until ``count`` sessions wait for a lock (a row lock or an advisory lock)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for _ in range(1000):
            cursor = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            row = await cursor.fetchone()
            if row is not None and row[0] >= count:
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"no session was blocked on a lock (expected {count})")


async def test_a_retried_append_with_the_same_event_id_is_stored_once(store: Store) -> None:
    run = await create_run(store)
    async with await psycopg.AsyncConnection.connect(store.db.url, autocommit=True) as listener:
        await listener.execute(f"LISTEN {EVENTS_CHANNEL}")
        first = await store.journal.append(
            run_uid=run.uid, type="tool.result", payload={"out": 1}, event_id="step-1/tc-1"
        )
        retried = await store.journal.append(
            run_uid=run.uid, type="tool.result", payload={"out": 1}, event_id="step-1/tc-1"
        )
        after = await store.journal.append(run_uid=run.uid, type="run.status", payload={})
        notices = [json.loads(n.payload) async for n in listener.notifies(timeout=10, stop_after=2)]

    assert retried == first
    assert first.event_id == "step-1/tc-1"
    assert after.seq == 2
    assert [(e.seq, e.event_id) for e in await store.journal.events_after(run.uid)] == [
        (1, "step-1/tc-1"),
        (2, None),
    ]
    assert [n["seq"] for n in notices] == [1, 2]  # the retry announced nothing new


async def test_event_ids_are_unique_per_run_not_globally(store: Store) -> None:
    one = await create_run(store)
    two = await create_run(store)

    a = await store.journal.append(run_uid=one.uid, type="run.started", payload={}, event_id="e")
    b = await store.journal.append(run_uid=two.uid, type="run.started", payload={}, event_id="e")

    assert (a.run_uid, a.seq, b.run_uid, b.seq) == (one.uid, 1, two.uid, 1)


async def test_reusing_an_event_id_for_other_content_is_refused(store: Store) -> None:
    run = await create_run(store)
    await store.journal.append(run_uid=run.uid, type="run.status", payload={"n": 1}, event_id="x")

    with pytest.raises(StoreRejected, match=r"event id 'x' .* already used by event 1"):
        await store.journal.append(
            run_uid=run.uid, type="run.status", payload={"n": 2}, event_id="x"
        )
    assert await store.journal.last_seq(run.uid) == 1


async def test_a_retry_racing_the_first_attempts_commit_returns_its_event(store: Store) -> None:
    # The first attempt's transaction is still open when the retry arrives, as when the
    # acknowledgement of a commit in progress is lost with the connection.
    run = await create_run(store)
    async with await psycopg.AsyncConnection.connect(store.db.url) as first_attempt:
        await first_attempt.execute(
            "UPDATE task_runs SET last_seq = last_seq + 1 WHERE uid = %s", (run.uid,)
        )
        await first_attempt.execute(
            "INSERT INTO task_events (run_uid, seq, type, payload, event_id) "
            "VALUES (%s, 1, 'tool.result', %s, 'e-1')",
            (run.uid, Jsonb({"out": 1})),
        )
        retry = asyncio.create_task(
            store.journal.append(
                run_uid=run.uid, type="tool.result", payload={"out": 1}, event_id="e-1"
            )
        )
        await wait_until_blocked_on_a_lock(store.db.url)
        await first_attempt.commit()
        event = await asyncio.wait_for(retry, timeout=10)

    assert (event.seq, event.event_id, event.payload) == (1, "e-1", {"out": 1})
    assert await store.journal.last_seq(run.uid) == 1
    assert len(await store.journal.events_after(run.uid)) == 1


async def test_a_cancelled_append_writes_nothing_and_frees_its_connection(
    database_url: str,
) -> None:
    # One connection in the pool: if the cancelled append left it busy or in a transaction,
    # the next append would wait for it or fail.
    async with Store.open(database_url, min_size=1, max_size=1, wait_timeout=5) as store:
        run = await create_run(store)
        async with await psycopg.AsyncConnection.connect(database_url) as locker:
            await locker.execute("SELECT FROM task_runs WHERE uid = %s FOR UPDATE", (run.uid,))
            append = asyncio.create_task(
                store.journal.append(run_uid=run.uid, type="run.status", payload={"n": 0})
            )
            await wait_until_blocked_on_a_lock(database_url)
            append.cancel()
            with pytest.raises(asyncio.CancelledError):
                await append
            await locker.rollback()

        after = await asyncio.wait_for(
            store.journal.append(run_uid=run.uid, type="run.status", payload={"n": 1}),
            timeout=10,
        )
        events = await store.journal.events_after(run.uid)

    assert after.seq == 1
    assert [(e.seq, e.payload) for e in events] == [(1, {"n": 1})]


async def test_a_cancelled_audit_append_releases_the_chain(database_url: str) -> None:
    async with Store.open(database_url, min_size=1, max_size=1, wait_timeout=5) as store:
        await store.audit.append(actor="a", actor_kind="user", action="approve", target="t")
        async with await psycopg.AsyncConnection.connect(database_url) as holder:
            # Hold every audit writer's lock, so the append below waits inside its transaction.
            await holder.execute("SELECT pg_advisory_xact_lock(%s)", (0x6D63617564697421,))
            append = asyncio.create_task(
                store.audit.append(actor="b", actor_kind="user", action="approve", target="t")
            )
            await wait_until_blocked_on_a_lock(database_url)
            append.cancel()
            with pytest.raises(asyncio.CancelledError):
                await append
            await holder.rollback()

        last = await asyncio.wait_for(
            store.audit.append(actor="c", actor_kind="user", action="approve", target="t"),
            timeout=10,
        )
        result = await store.audit.verify()
        actors = [e.actor for e in await store.audit.entries()]

    assert actors == ["a", "c"]
    assert (result.ok, result.checked) == (True, 2)
    assert last.actor == "c"


async def test_a_follower_keeps_up_with_concurrent_writers_without_gaps_or_repeats(
    store: Store,
) -> None:
    run = await create_run(store)
    writers, per_writer = 4, 40
    total = writers * per_writer
    await store.journal.append(run_uid=run.uid, type="run.started", payload={})

    async def write() -> None:
        for _ in range(per_writer):
            await store.journal.append(run_uid=run.uid, type="run.status", payload={})

    seen: list[int] = []
    async with store.follow(run.uid) as events:
        # The writers start before the follower's replay, so events land during the replay,
        # between replay and live, and while it follows live.
        writing = asyncio.gather(*(write() for _ in range(writers)))
        while len(seen) < total + 1:
            event = await asyncio.wait_for(anext(events), timeout=10)
            assert event is not None
            seen.append(event.seq)
        await writing

    assert seen == list(range(1, total + 2))


async def listening_sessions(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
        )
        row = await cursor.fetchone()
        return 0 if row is None else int(row[0])


async def test_a_follower_cancelled_while_waiting_closes_its_connection(store: Store) -> None:
    run = await create_run(store)

    async with store.follow(run.uid) as events:
        while_following = await listening_sessions(store.db.url)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(events), timeout=0.05)

    # A backend ends a moment after its client hangs up.
    for _ in range(500):
        if await listening_sessions(store.db.url) == 0:
            break
        await asyncio.sleep(0.01)
    assert while_following == 1
    assert await listening_sessions(store.db.url) == 0
