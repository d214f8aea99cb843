"""PostgreSQL stopped mid-work and started again: writes wait or fail retryably, nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from mission_control.store import JournalUnavailable, Store, apply_migrations
from tests.store.helpers import create_run
from tests.support.postgres import LocalPostgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def server() -> Iterator[LocalPostgres]:
    """A server of this test's own, since the test stops and restarts it."""
    with LocalPostgres() as started:
        yield started


@pytest.fixture
async def migrated(server: LocalPostgres) -> str:
    await apply_migrations(server.url)
    return server.url


async def append_until_stored(store: Store, *, run_uid: str, payload: dict[str, int]) -> int:
    """What a caller does with a retryable error: wait as told, then try again."""
    for _ in range(100):
        try:
            event = await store.journal.append(run_uid=run_uid, type="run.status", payload=payload)
        except JournalUnavailable as exc:
            await asyncio.sleep(min(exc.retry_after or 0.1, 0.2))
        else:
            return event.seq
    raise AssertionError("the journal never came back")


async def test_journal_writes_survive_a_database_restart(
    server: LocalPostgres, migrated: str
) -> None:
    async with (
        Store.open(migrated, wait_timeout=60) as patient,
        Store.open(migrated, wait_timeout=0.2) as impatient,
    ):
        run = await create_run(patient)
        for i in range(3):
            await patient.journal.append(run_uid=run.uid, type="run.status", payload={"i": i})

        await asyncio.to_thread(server.stop)
        with pytest.raises(JournalUnavailable) as unavailable:
            await impatient.journal.append(run_uid=run.uid, type="run.status", payload={"i": -1})
        waiting = asyncio.create_task(
            patient.journal.append(run_uid=run.uid, type="run.status", payload={"i": 3})
        )
        await asyncio.sleep(0.3)
        still_waiting = not waiting.done()
        await asyncio.to_thread(server.start)
        during_outage = await asyncio.wait_for(waiting, timeout=60)
        after = await append_until_stored(impatient, run_uid=run.uid, payload={"i": 4})
        events = await patient.journal.events_after(run.uid, 0)

    assert unavailable.value.retry_after is not None
    assert "could not append to the journal" in str(unavailable.value)
    assert still_waiting
    assert (during_outage.seq, after) == (4, 5)
    assert [(e.seq, e.payload) for e in events] == [(n, {"i": n - 1}) for n in range(1, 6)]


async def test_a_follower_is_told_when_the_database_goes_away(
    server: LocalPostgres, migrated: str
) -> None:
    async with Store.open(migrated) as store:
        run = await create_run(store)
        await store.journal.append(run_uid=run.uid, type="run.started", payload={})
        async with store.follow(run.uid) as events:
            first = await anext(events)
            await asyncio.to_thread(server.stop)
            with pytest.raises(JournalUnavailable):
                await asyncio.wait_for(anext(events), timeout=30)

    assert first is not None
    assert first.seq == 1
