"""The pool hands out live connections without a round trip per checkout."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from mission_control.store import Store

pytestmark = [pytest.mark.postgres]


async def backend_pid(store: Store) -> int:
    return int(await store.db.fetch_value(query="SELECT pg_backend_pid()", action="read the pid"))


async def test_a_connection_whose_backend_was_terminated_is_replaced(database_url: str) -> None:
    async with Store.open(database_url, min_size=1, max_size=1) as store:
        first = await backend_pid(store)
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
            for _ in range(600):
                gone = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (first,)
                ).fetchone()
                if gone == (0,):
                    break
                await asyncio.sleep(0.05)

        second = await backend_pid(store)

    assert second != first
