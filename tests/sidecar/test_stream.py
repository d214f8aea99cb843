"""The event stream with a real HTTP client: replay, resume, live, end, heartbeats, fan-out."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from mission_control.settings import SidecarSettings
from mission_control.sidecar.stream import DROPPED_COMMENT
from mission_control.store import RunRecord, Store
from mission_control.store.notices import LISTENER_APPLICATION_NAME
from tests.sidecar.harness import TOKEN, Sidecar, running_sidecar
from tests.sidecar.seed import add_run, append
from tests.sidecar.sse import read_stream

pytestmark = pytest.mark.postgres

STREAM = "/api/v1/task-runs/ops/{name}/events/stream"


async def finished_run(store: Store, name: str, *, steps: int = 3) -> RunRecord:
    run = await add_run(store, namespace="ops", name=name)
    await append(store, run, "run.started")
    for n in range(steps):
        await append(store, run, "llm.request", step=n)
    await append(store, run, "run.finished", reason="Succeeded")
    return run


async def test_a_finished_run_is_replayed_from_the_start_and_the_stream_ends(
    store: Store, sidecar: Sidecar
) -> None:
    await finished_run(store, "done")

    got = await read_stream(sidecar.client, STREAM.format(name="done"))

    assert got.seqs == [1, 2, 3, 4, 5]
    assert got.types == ["run.started", "llm.request", "llm.request", "llm.request", "run.finished"]
    assert got.events[1].json()["payload"] == {"step": 0}
    assert got.events[1].json()["seq"] == 2
    assert got.retry == 2000


async def test_last_event_id_resumes_without_duplicates_or_gaps(
    store: Store, sidecar: Sidecar
) -> None:
    await finished_run(store, "resumed", steps=6)

    first = await read_stream(sidecar.client, STREAM.format(name="resumed"), last_event_id=0)
    rest = await read_stream(sidecar.client, STREAM.format(name="resumed"), last_event_id=3)
    at_end = await read_stream(sidecar.client, STREAM.format(name="resumed"), last_event_id=8)

    assert first.seqs == list(range(1, 9))
    assert rest.seqs == [4, 5, 6, 7, 8]
    assert at_end.seqs == []  # resumed after run.finished: nothing more, and it ends


async def test_a_bad_last_event_id_is_400_naming_the_header(store: Store, sidecar: Sidecar) -> None:
    await finished_run(store, "bad-header")

    response = await sidecar.client.get(
        STREAM.format(name="bad-header"), headers={"Last-Event-ID": "seven"}
    )

    assert response.status_code == 400
    assert "'Last-Event-ID'" in response.json()["message"]


async def test_live_events_arrive_in_order_and_the_stream_ends_after_run_finished(
    store: Store, sidecar: Sidecar
) -> None:
    run = await add_run(store, namespace="ops", name="live")
    await append(store, run, "run.started")
    connected = asyncio.Event()
    reader = asyncio.create_task(
        read_stream(sidecar.client, STREAM.format(name="live"), connected=connected)
    )
    await connected.wait()

    for n in range(20):
        await append(store, run, "tool.result", n=n)
    await append(store, run, "run.finished", reason="Succeeded")
    got = await reader

    assert got.seqs == list(range(1, 23))
    assert [e.json()["payload"].get("n") for e in got.events[1:21]] == list(range(20))
    assert got.types[-1] == "run.finished"


async def test_heartbeat_comments_keep_an_idle_stream_alive(reader: Store, store: Store) -> None:
    settings = SidecarSettings.model_validate(
        {"api_auth_token": TOKEN, "MC_SIDECAR_HEARTBEAT_SECONDS": "0.2"}
    )
    run = await add_run(store, namespace="ops", name="idle")
    await append(store, run, "run.started")
    async with running_sidecar(reader, settings=settings) as sidecar:
        pings: list[str] = []
        async with sidecar.client.stream("GET", STREAM.format(name="idle")) as response:
            async for line in response.aiter_lines():
                if line.startswith(": ping"):
                    pings.append(line)
                if len(pings) == 2:
                    break

    assert len(pings) == 2


async def test_two_hundred_clients_get_every_event_over_one_listen_connection(
    store: Store, sidecar: Sidecar, readonly_url: str, database_url: str
) -> None:
    run = await add_run(store, namespace="ops", name="crowd")
    await append(store, run, "run.started")
    clients = 200
    connected = [asyncio.Event() for _ in range(clients)]
    limits = httpx.Limits(max_connections=clients + 10)
    async with httpx.AsyncClient(
        base_url=sidecar.url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        limits=limits,
        timeout=60.0,
    ) as crowd:
        readers = [
            asyncio.create_task(
                read_stream(crowd, STREAM.format(name="crowd"), connected=connected[i])
            )
            for i in range(clients)
        ]
        await asyncio.gather(*(event.wait() for event in connected))
        async with await psycopg.AsyncConnection.connect(database_url) as admin:
            listening = await (
                await admin.execute(
                    "SELECT count(*) FILTER (WHERE query ILIKE 'LISTEN%%'), "
                    "count(*) FILTER (WHERE application_name = %s) "
                    "FROM pg_stat_activity WHERE datname = current_database()",
                    (LISTENER_APPLICATION_NAME,),
                )
            ).fetchone()
        for n in range(10):
            await append(store, run, "llm.response", n=n)
        await append(store, run, "run.finished", reason="Succeeded")
        results = await asyncio.gather(*readers)

    assert listening == (1, 1)
    assert all(got.seqs == list(range(1, 13)) for got in results)
    assert sidecar.services.hub.feeds == 0  # every client's resources are freed
    delivered = sidecar.services.metrics.registry.get_sample_value(
        "mission_control_sse_events_delivered_total"
    )
    assert delivered == clients * 12


async def test_a_client_that_stops_reading_is_dropped_without_delaying_the_others(
    reader: Store, store: Store
) -> None:
    settings = SidecarSettings.model_validate(
        {"api_auth_token": TOKEN, "MC_SIDECAR_CLIENT_BUFFER": "4"}
    )
    run = await add_run(store, namespace="ops", name="slow")
    await append(store, run, "run.started")
    big = "x" * 64 * 1024  # enough events of this size fill any socket buffer
    async with (
        running_sidecar(reader, settings=settings) as sidecar,
        sidecar.client.stream("GET", STREAM.format(name="slow")) as stalled,
    ):
        lines = stalled.aiter_lines()
        assert (await anext(lines)).startswith(": run")  # subscribed, then stops reading
        progress: asyncio.Queue[int] = asyncio.Queue()
        fast = asyncio.create_task(
            read_stream(sidecar.client, STREAM.format(name="slow"), progress=progress)
        )
        assert await progress.get() == 1
        for n in range(300):
            seq = await append(store, run, "tool.result", n=n, output=big)
            # The reading client keeps up (so only the stalled one can fall behind).
            assert await progress.get() == seq
        await append(store, run, "run.finished", reason="Succeeded")
        got = await fast  # the stalled client has not read a byte meanwhile
        dropped = sidecar.services.metrics.registry.get_sample_value(
            "mission_control_sse_clients_dropped_total"
        )
        rest = [line async for line in lines]

    assert got.seqs == list(range(1, 303))
    assert dropped == 1
    assert f": {DROPPED_COMMENT}" in rest
    assert "event: run.finished" not in rest


async def test_streams_carry_on_after_the_listening_connection_is_lost(
    store: Store, sidecar: Sidecar, database_url: str
) -> None:
    run = await add_run(store, namespace="ops", name="relisten")
    await append(store, run, "run.started")
    connected = asyncio.Event()
    reader = asyncio.create_task(
        read_stream(sidecar.client, STREAM.format(name="relisten"), connected=connected)
    )
    await connected.wait()

    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        killed = await (
            await admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (LISTENER_APPLICATION_NAME,),
            )
        ).fetchone()
    for n in range(3):  # appended while nobody listens
        await append(store, run, "tool.result", n=n)
    await append(store, run, "run.finished", reason="Succeeded")
    got = await reader

    assert killed == (1,)
    assert got.seqs == [1, 2, 3, 4, 5]
