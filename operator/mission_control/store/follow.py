"""Following a run's journal live: replay what is stored, then wake on ``NOTIFY``.

A follower holds one dedicated connection (``LISTEN`` state must not leak into the pool) and
reads events through the pool. It subscribes before it replays, and always reads "everything
after the last seq seen", so an event committed during the replay is neither missed nor
delivered twice, and a lost notification only delays delivery until the next one.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from mission_control.store.database import check_database_url
from mission_control.store.journal import EVENTS_CHANNEL, Journal
from mission_control.store.records import EventNotice, JournalEvent
from mission_control.store.translate import translate_errors

__all__ = ["follow_run", "parse_notice"]


def parse_notice(payload: str) -> EventNotice | None:
    """Parse a journal notification; None for anything that is not one."""
    try:
        data = json.loads(payload)
        return EventNotice(run_uid=str(data["run_uid"]), seq=int(data["seq"]))
    except (ValueError, TypeError, KeyError):
        return None


@asynccontextmanager
async def follow_run(
    *,
    database_url: str,
    journal: Journal,
    run_uid: str,
    after_seq: int = 0,
    idle_seconds: float | None = None,
) -> AsyncIterator[AsyncIterator[JournalEvent | None]]:
    """Yield an iterator over the run's events after ``after_seq``, stored ones first, then live.

    With ``idle_seconds`` set the iterator yields ``None`` after that long without an event
    (time for a heartbeat). It never ends by itself: the caller stops after ``run.finished``.
    Losing the connection raises ``JournalUnavailable``; follow again from the last seq seen.
    """
    check_database_url(database_url)
    with translate_errors("follow the journal"):
        conn = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    try:
        with translate_errors("follow the journal"):
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(EVENTS_CHANNEL)))
        events = _events(
            conn=conn,
            journal=journal,
            run_uid=run_uid,
            after_seq=after_seq,
            idle_seconds=idle_seconds,
        )
        try:
            yield events
        finally:
            await events.aclose()
    finally:
        await conn.close()


async def _events(
    *,
    conn: psycopg.AsyncConnection[TupleRow],
    journal: Journal,
    run_uid: str,
    after_seq: int,
    idle_seconds: float | None,
) -> AsyncGenerator[JournalEvent | None]:
    last = after_seq
    for event in await journal.events_after(run_uid, last):
        last = event.seq
        yield event
    while True:
        if await _wait_for_news(
            conn=conn, run_uid=run_uid, after_seq=last, idle_seconds=idle_seconds
        ):
            for event in await journal.events_after(run_uid, last):
                last = event.seq
                yield event
        else:
            yield None


async def _wait_for_news(
    *,
    conn: psycopg.AsyncConnection[TupleRow],
    run_uid: str,
    after_seq: int,
    idle_seconds: float | None,
) -> bool:
    """Wait for a notice of a newer event of this run; False after ``idle_seconds`` without."""
    deadline = None if idle_seconds is None else time.monotonic() + idle_seconds
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return False
        with translate_errors("follow the journal"):
            # Notices for other runs share the channel; keep waiting through them.
            async with aclosing(conn.notifies(timeout=remaining, stop_after=1)) as notifies:
                async for notify in notifies:
                    notice = parse_notice(notify.payload)
                    if notice is not None and notice.run_uid == run_uid and notice.seq > after_seq:
                        return True
