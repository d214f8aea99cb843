"""Event-stream fan-out of the sidecar: delivery latency, throughput, CPU and memory.

    python -m bench.sidecar [--seconds 15] [--clients 500] [--rate 20] [--workers 2]

Starts a throwaway PostgreSQL (or uses ``MC_BENCH_DATABASE_URL``), runs ``mission-control
sidecar`` as its own process, and connects stream clients from worker processes (raw HTTP over
asyncio, so the clients cost little). Scenarios:

1. the floor: one bare ``LISTEN`` connection, NOTIFY latency at the same append rate;
2. one busy run: ``--clients`` clients while events are appended at ``--rate`` per second;
3. 50 runs with 10 clients each, events appended round-robin at ``--rate`` per second per
   5 runs (the same total of appends per client as scenario 2 would need is not affordable on
   one writer; the rate is printed).

Latency is from the append's commit (when ``append`` returned) to the client reading the
event's ``id:`` line, wall clock, same machine. CPU is the sidecar's user+system time over the
scenario; RSS its resident memory at the end (and its peak).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from bench.journal import scratch_database, server_url
from mission_control.store import EVENTS_CHANNEL, Store, apply_migrations
from mission_control.store.records import RunSnapshot

TOKEN = "bench-token-" + uuid.uuid4().hex
PAYLOAD = {"tool": "list_k8s_pods", "status": "completed", "output": "web-0 Running " * 40}
TICKS = os.sysconf("SC_CLK_TCK")


# -- clients (in worker processes) ----------------------------------------------------------


async def _client(port: int, path: str) -> list[tuple[int, float]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    received: list[tuple[int, float]] = []
    pending = b""
    try:
        while True:
            data = await reader.read(65536)
            now = time.time()
            if not data:
                return received
            lines = (pending + data).split(b"\n")
            pending = lines.pop()
            for line in lines:
                if line.startswith(b"id: "):
                    received.append((int(line[4:].strip()), now))
                elif line.startswith(b"event: run.finished"):
                    return received
    finally:
        writer.close()


async def _clients(port: int, paths: list[str]) -> list[list[tuple[int, float]]]:
    return list(await asyncio.gather(*(_client(port, path) for path in paths)))


def run_clients(port: int, paths: list[str]) -> list[list[tuple[int, float]]]:
    """Worker process: stream ``paths`` at once; each client's (seq, receipt time)."""
    return asyncio.run(_clients(port, paths))


# -- the sidecar process --------------------------------------------------------------------


@dataclass
class Usage:
    cpu_seconds: float
    rss_mb: float
    peak_rss_mb: float


def process_usage(pid: int) -> Usage:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return Usage(
        cpu_seconds=cpu,
        rss_mb=int(status["VmRSS"].split()[0]) / 1024,
        peak_rss_mb=int(status["VmHWM"].split()[0]) / 1024,
    )


@contextlib.contextmanager
def sidecar(database_url: str) -> Iterator[tuple[int, int]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MC_", "KUBECONFIG"))}
    env |= {
        "DATABASE_URL": database_url,
        "API_AUTH_TOKEN": TOKEN,
        "MC_SIDECAR_PORT": str(port),
        "MC_SIDECAR_CLIENT_BUFFER": "10000",
        "LOG_LEVEL": "WARNING",
    }
    command = [str(Path(sys.executable).with_name("mission-control")), "sidecar"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5.0)
                break
            except httpx.TransportError:
                if process.poll() is not None:
                    raise RuntimeError("the sidecar did not start") from None
                time.sleep(0.1)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def connected_clients(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10.0).text
    for line in text.splitlines():
        if line.startswith("mission_control_sse_clients "):
            return float(line.split()[1])
    return 0.0


# -- appending ------------------------------------------------------------------------------


async def new_run(store: Store, name: str) -> str:
    snapshot = RunSnapshot(
        uid=str(uuid.uuid4()),
        namespace="bench",
        name=name,
        spec={"prompt": "benchmark"},
        created_at=dt.datetime.now(dt.UTC),
    )
    return (await store.runs.upsert_run(snapshot)).uid


async def append_steadily(
    store: Store, *, run_uids: list[str], rate: float, seconds: float
) -> dict[tuple[str, int], float]:
    """Append round-robin over the runs at ``rate`` per second; each event's commit time."""
    committed: dict[tuple[str, int], float] = {}
    total = int(rate * seconds)
    started = time.monotonic()
    for n in range(total):
        await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        run_uid = run_uids[n % len(run_uids)]
        event = await store.journal.append(
            run_uid=run_uid, type="tool.result", payload={**PAYLOAD, "n": n}
        )
        committed[(run_uid, event.seq)] = time.time()
    for run_uid in run_uids:
        event = await store.journal.append(run_uid=run_uid, type="run.finished", payload={})
        committed[(run_uid, event.seq)] = time.time()
    return committed


# -- scenarios ------------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    clients: int
    appends_per_second: float
    deliveries: int
    seconds: float
    latencies: list[float]
    usage: Usage | None = None

    def line(self) -> str:
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        rate = self.deliveries / self.seconds
        cpu = ram = peak = per = "-"
        if self.usage is not None:
            cpu = f"{self.usage.cpu_seconds / self.seconds * 100:.0f}%"
            per = f"{self.usage.cpu_seconds / self.deliveries * 1e6:.1f}"
            ram, peak = f"{self.usage.rss_mb:.0f}", f"{self.usage.peak_rss_mb:.0f}"
        return (
            f"{self.scenario:<26} {self.clients:>7} {self.appends_per_second:>8.0f} "
            f"{rate:>12.0f} {cuts[49] * 1000:>7.1f} {cuts[98] * 1000:>7.1f} "
            f"{cpu:>6} {per:>9} {ram:>6} {peak:>6}"
        )


async def listen_floor(database_url: str, store: Store, *, rate: float, seconds: float) -> Row:
    run_uid = await new_run(store, "floor")
    heard: dict[int, float] = {}
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(EVENTS_CHANNEL)))

        async def listen() -> None:
            async for notify in conn.notifies():
                seq = int(notify.payload.rsplit(":", 1)[1].strip(" }"))
                heard[seq] = time.time()

        listener = asyncio.create_task(listen())
        committed = await append_steadily(store, run_uids=[run_uid], rate=rate, seconds=seconds)
        await asyncio.sleep(0.5)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    latencies = [heard[seq] - at for (_, seq), at in committed.items() if seq in heard]
    return Row("floor: bare LISTEN", 1, rate, len(latencies), seconds, latencies)


async def fan_out(
    store: Store,
    *,
    port: int,
    pid: int,
    name: str,
    runs: int,
    clients_per_run: int,
    rate: float,
    seconds: float,
    workers: int,
) -> Row:
    names = [f"bench-{i}-{uuid.uuid4().hex[:6]}" for i in range(runs)]
    run_uids = [await new_run(store, n) for n in names]
    await store.journal.append(run_uid=run_uids[0], type="run.started", payload={})
    paths = [f"/api/v1/task-runs/bench/{n}/events/stream" for n in names] * clients_per_run
    shares = [paths[i::workers] for i in range(workers)]
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [loop.run_in_executor(pool, run_clients, port, share) for share in shares]
        for _ in range(600):  # two minutes at most
            if connected_clients(port) >= len(paths):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # each has subscribed just after it was counted
        before = process_usage(pid)
        started = time.monotonic()
        committed = await append_steadily(store, run_uids=run_uids, rate=rate, seconds=seconds)
        results = [received for future in futures for received in await future]
        elapsed = time.monotonic() - started
        after = process_usage(pid)
    uid_of = dict(zip(paths, [run_uids[i % runs] for i in range(len(paths))], strict=True))
    latencies = [
        at - committed[(uid_of[path], seq)]
        for path, received in zip([p for share in shares for p in share], results, strict=True)
        for seq, at in received
        if (uid_of[path], seq) in committed
    ]
    usage = Usage(
        cpu_seconds=after.cpu_seconds - before.cpu_seconds,
        rss_mb=after.rss_mb,
        peak_rss_mb=after.peak_rss_mb,
    )
    return Row(name, len(paths), rate, len(latencies), elapsed, latencies, usage)


async def main(*, seconds: float, clients: int, rate: float, workers: int) -> None:
    with server_url(fsync=False) as (url, description):
        async with scratch_database(url) as database:
            await apply_migrations(database)
            async with Store.open(database, min_size=2, max_size=4) as store:
                floor = await listen_floor(database, store, rate=rate, seconds=seconds)
                with sidecar(database) as (port, pid):
                    busy = await fan_out(
                        store, port=port, pid=pid, name="1 run", runs=1,
                        clients_per_run=clients, rate=rate, seconds=seconds, workers=workers,
                    )  # fmt: skip
                    spread = await fan_out(
                        store, port=port, pid=pid, name="50 runs x 10 clients", runs=50,
                        clients_per_run=10, rate=rate * 10, seconds=seconds, workers=workers,
                    )  # fmt: skip
    print(f"sidecar stream benchmark ({description}; {os.cpu_count()} CPUs shared)")
    header = (
        "scenario", "clients", "appends/s", "deliveries/s", "p50 ms", "p99 ms", "CPU",
        "µs CPU/del", "RSS MB", "peak",
    )  # fmt: skip
    print("{:<26} {:>7} {:>8} {:>12} {:>7} {:>7} {:>6} {:>9} {:>6} {:>6}".format(*header))
    for row in (floor, busy, spread):
        print(row.line())
    print(
        f"sidecar p99 {busy.line().split()[-5]} ms at {busy.clients} clients "
        f"vs bare LISTEN p99 {floor.line().split()[-5]} ms"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=15.0, help="append for this long")
    parser.add_argument("--clients", type=int, default=500, help="clients of the busy run")
    parser.add_argument("--rate", type=float, default=20.0, help="appends per second")
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    asyncio.run(
        main(seconds=args.seconds, clients=args.clients, rate=args.rate, workers=args.workers)
    )
