"""One ``LISTEN`` connection per process for the journal's notifications.

The sidecar fans notifications out to every client in memory, so however many streams are
open it holds exactly one listening connection. :func:`listen_for_events` opens that
connection and yields each :class:`~.records.EventNotice` (and ``None`` at the end of each
period without one, so the caller can check on itself); losing the connection raises
``JournalUnavailable`` and the caller listens again, then reads what it may have missed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from mission_control.store.database import check_database_url
from mission_control.store.follow import parse_notice
from mission_control.store.journal import EVENTS_CHANNEL
from mission_control.store.records import EventNotice
from mission_control.store.translate import translate_errors

__all__ = ["LISTENER_APPLICATION_NAME", "listen_for_events"]

#: ``application_name`` of the listening connection, so it can be told apart in
#: ``pg_stat_activity``.
LISTENER_APPLICATION_NAME = "mission-control-listener"


@asynccontextmanager
async def listen_for_events(
    database_url: str, *, idle_seconds: float = 30.0
) -> AsyncIterator[AsyncIterator[EventNotice | None]]:
    """Listen on the journal channel; yield notices, ``None`` after ``idle_seconds`` of quiet.

    The connection is listening when the context is entered: an event committed after that
    is announced to the iterator.
    """
    check_database_url(database_url)
    with translate_errors("listen to the journal"):
        conn = await psycopg.AsyncConnection.connect(
            database_url, autocommit=True, application_name=LISTENER_APPLICATION_NAME
        )
    try:
        with translate_errors("listen to the journal"):
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(EVENTS_CHANNEL)))
        notices = _notices(conn=conn, idle_seconds=idle_seconds)
        try:
            yield notices
        finally:
            await notices.aclose()
    finally:
        await conn.close()


async def _notices(
    *, conn: psycopg.AsyncConnection[TupleRow], idle_seconds: float
) -> AsyncGenerator[EventNotice | None]:
    while True:
        heard = False
        with translate_errors("listen to the journal"):
            async with aclosing(conn.notifies(timeout=idle_seconds)) as notifies:
                async for notify in notifies:
                    notice = parse_notice(notify.payload)
                    if notice is not None:
                        heard = True
                        yield notice
        if not heard:
            yield None
