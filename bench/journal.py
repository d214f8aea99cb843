"""Journal append throughput and latency against a real PostgreSQL.

    python -m bench.journal [--events 2000] [--runs 50] [--pool 20] [--no-fsync]

Uses ``MC_BENCH_DATABASE_URL`` or ``DATABASE_URL`` when set (a scratch database is created
there and dropped afterwards; the user needs CREATEDB), else starts a throwaway server.
Scenarios: one run with one writer (without and with an ``event_id`` per append), one run with
eight writers (contention on its seq counter), and many runs with one writer each, as the
operator does with concurrent TaskRuns, also with three keyed events per commit (as a run's
step commits its events with the rows they describe). Last, the bare ceiling: a single-row
INSERT of the same payload and its COMMIT, through a pool of the same size at the same
concurrency as the many-runs scenario, one statement in autocommit (one round trip, as a
lone append), with the journal's ratio to it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from mission_control.store import Store, apply_migrations
from mission_control.store.records import RunSnapshot
from tests.support.postgres import LocalPostgres, url_with_database

# A tool result of realistic size (about 1 KiB of JSON).
PAYLOAD = {
    "tool": "list_k8s_pods",
    "toolCallId": "tc-1",
    "output": [{"name": f"web-{i}", "phase": "Running", "restarts": i} for i in range(16)],
}


@dataclass(frozen=True, kw_only=True)
class Result:
    scenario: str
    writers: int
    events: int
    seconds: float
    latencies: list[float]

    def row(self) -> str:
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return (
            f"{self.scenario:<22} {self.writers:>7} {self.events:>7} "
            f"{self.events / self.seconds:>10.0f} {cuts[49] * 1000:>8.2f} {cuts[98] * 1000:>8.2f}"
        )


async def new_run(store: Store) -> str:
    snapshot = RunSnapshot(
        uid=str(uuid.uuid4()),
        namespace="bench",
        name=f"bench-{uuid.uuid4().hex[:8]}",
        spec={"prompt": "benchmark"},
        created_at=dt.datetime.now(dt.UTC),
    )
    return (await store.runs.upsert_run(snapshot)).uid


async def writer(
    store: Store,
    *,
    run_uid: str,
    count: int,
    latencies: list[float],
    keyed: bool,
    per_commit: int = 1,
) -> None:
    for first in range(0, count, per_commit):
        started = time.perf_counter()
        # One append alone is one statement in autocommit, as the operator writes a lone
        # event; several share a transaction, as a step commits its events with its rows.
        async with (
            store.db.transaction(action="append to the journal")
            if per_commit > 1
            else contextlib.nullcontext()
        ):
            for i in range(first, min(first + per_commit, count)):
                # A keyed append also looks for an earlier event with its id (retry safety).
                event_id = f"{uuid.uuid4().hex}/{i}" if keyed else None
                await store.journal.append(
                    run_uid=run_uid,
                    type="tool.result",
                    payload={**PAYLOAD, "i": i},
                    event_id=event_id,
                )
        # Each event of a commit waited for all of it.
        latencies.extend([time.perf_counter() - started] * min(per_commit, count - first))


async def scenario(
    store: Store,
    *,
    name: str,
    runs: int,
    writers_per_run: int,
    events: int,
    keyed: bool = False,
    per_commit: int = 1,
) -> Result:
    run_uids = [await new_run(store) for _ in range(runs)]
    per_writer = max(1, events // (runs * writers_per_run))
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(
            writer(
                store,
                run_uid=run_uid,
                count=per_writer,
                latencies=latencies,
                keyed=keyed,
                per_commit=per_commit,
            )
            for run_uid in run_uids
            for _ in range(writers_per_run)
        )
    )
    elapsed = time.perf_counter() - started
    return Result(
        scenario=name,
        writers=runs * writers_per_run,
        events=len(latencies),
        seconds=elapsed,
        latencies=latencies,
    )


async def bare_ceiling(
    database: str, *, pool: int, writers: int, events: int, notify: bool = False
) -> Result:
    """Plain INSERT + COMMIT of the same payload: what the journal's append is measured by.

    With ``notify`` each INSERT also sends a NOTIFY, as the journal does, to show its share.
    """
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_bare (id bigserial PRIMARY KEY, run_uid uuid, "
            "type text, payload jsonb, created_at timestamptz NOT NULL DEFAULT now())"
        )
    latencies: list[float] = []
    per_writer = max(1, events // writers)

    async def insert(connections: AsyncConnectionPool, run_uid: uuid.UUID) -> None:
        for i in range(per_writer):
            started = time.perf_counter()
            async with connections.connection() as conn:  # autocommit: one round trip
                await conn.execute(
                    "INSERT INTO bench_bare (run_uid, type, payload) VALUES (%s, %s, %s)"
                    + (" RETURNING pg_notify('mc_bench', id::text)" if notify else ""),
                    (run_uid, "tool.result", Jsonb({**PAYLOAD, "i": i})),
                )
            latencies.append(time.perf_counter() - started)

    async with AsyncConnectionPool(
        database, min_size=pool, max_size=pool, kwargs={"autocommit": True}, open=False
    ) as conns:
        await conns.wait()
        started = time.perf_counter()
        await asyncio.gather(*(insert(conns, uuid.uuid4()) for _ in range(writers)))
        elapsed = time.perf_counter() - started
    return Result(
        scenario="bare INSERT + NOTIFY" if notify else "bare INSERT ceiling",
        writers=writers,
        events=len(latencies),
        seconds=elapsed,
        latencies=latencies,
    )


@contextlib.contextmanager
def server_url(*, fsync: bool) -> Iterator[tuple[str, str]]:
    given = os.environ.get("MC_BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if given:
        yield given, "given server"
        return
    with LocalPostgres(fsync=fsync) as server:
        yield server.url, f"{server.version}, throwaway, fsync {'on' if fsync else 'off'}"


@contextlib.asynccontextmanager
async def scratch_database(url: str) -> AsyncIterator[str]:
    database = f"mc_bench_{uuid.uuid4().hex[:12]}"
    name = sql.Identifier(database)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
        await admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        yield url_with_database(url, database)
    finally:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
            await admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))


async def main(*, events: int, runs: int, pool: int, fsync: bool) -> None:
    with server_url(fsync=fsync) as (url, description):
        async with scratch_database(url) as database:
            await apply_migrations(database)
            async with Store.open(database, min_size=pool, max_size=pool) as store:
                await scenario(store, name="warm-up", runs=1, writers_per_run=1, events=200)
                results = [
                    await scenario(store, name="1 run, 1 writer", runs=1, writers_per_run=1,
                                   events=events),
                    await scenario(store, name="1 run, 1 writer, ids", runs=1,
                                   writers_per_run=1, events=events, keyed=True),
                    await scenario(store, name="1 run, 8 writers", runs=1, writers_per_run=8,
                                   events=events),
                    await scenario(store, name=f"{runs} runs, 3 per commit", runs=runs,
                                   writers_per_run=1, events=events * 5, keyed=True,
                                   per_commit=3),
                    await scenario(store, name=f"{runs} runs, 1 writer each", runs=runs,
                                   writers_per_run=1, events=events * 5),
                ]  # fmt: skip
            bare = await bare_ceiling(database, pool=pool, writers=runs, events=events * 5)
            notified = await bare_ceiling(
                database, pool=pool, writers=runs, events=events * 5, notify=True
            )
    print(f"journal append benchmark ({description}; pool of {pool} connections)")
    header = ("scenario", "writers", "events", "events/s", "p50 ms", "p99 ms")
    print("{:<22} {:>7} {:>7} {:>10} {:>8} {:>8}".format(*header))
    for result in results:
        print(result.row())
    print(bare.row())
    print(notified.row())
    journal = results[-1]
    ratio = (journal.events / journal.seconds) / (bare.events / bare.seconds)
    print(f"journal ({journal.scenario}) / bare INSERT ceiling: {ratio:.0%}")
    grouped = results[-2]
    ratio = (grouped.events / grouped.seconds) / (bare.events / bare.seconds)
    print(f"journal ({grouped.scenario}, as a run's step commits) / bare INSERT: {ratio:.0%}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=2000, help="events per single-run scenario")
    parser.add_argument("--runs", type=int, default=50, help="runs in the concurrent scenario")
    parser.add_argument("--pool", type=int, default=20, help="connections in the store's pool")
    parser.add_argument(
        "--no-fsync",
        dest="fsync",
        action="store_false",
        help="throwaway server without fsync (measures CPU, not the disk)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    asyncio.run(main(events=args.events, runs=args.runs, pool=args.pool, fsync=args.fsync))
