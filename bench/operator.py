"""The operator measured against the API server's own ceiling, on this machine.

    python -m bench.operator [--runs 50,200] [--finished 1000] [--held 100]

Starts a local control plane, a throwaway PostgreSQL and an Ollama double that answers at
once, then:

1. the ceiling: bare merge-PATCHes of TaskRun status per second from a plain async client,
   at 1, 10 and 50 concurrent writers, with no operator running (the best is kept);
2. the operator (``mission-control operator`` as a subprocess, default settings): N TaskRuns
   applied at once, each three steps with one READ_ONLY tool call per step and a final
   answer; runs/s, apply-to-Succeeded p50/p99, Kubernetes writes per run from the API
   server's ``apiserver_request_total``, journal rows per run, CPU per step, peak RSS;
3. the ratios against the ceiling and against steps + 3 writes;
4. memory at rest: RSS with ``--finished`` finished and ``--held`` runs awaiting approval;
5. prompt overhead of the system prompt and the eight MVP tools' schemas.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from mission_control.runs.prompt import system_prompt
from mission_control.store import apply_migrations
from mission_control.tools import default_registry
from tests.controlplane.launcher import Cluster, LocalControlPlane, build_binaries
from tests.fakes.ollama import FakeOllama
from tests.fakes.server import RecordedRequest, Reply
from tests.support.postgres import LocalPostgres
from tests.support.processes import die_with_parent, free_port, stop_process, wait_until

ROOT = Path(__file__).resolve().parents[1]
GROUP = "/apis/missioncontrol.dev/v1alpha1"
STEPS_WITH_TOOLS = 3
MVP_TOOLS = (
    "list_k8s_deployments",
    "get_k8s_pod_logs",
    "restart_k8s_deployment",
    "list_proxmox_vms",
    "list_proxmox_lxcs",
    "restart_proxmox_lxc",
    "get_argocd_app_status",
    "query_prometheus",
)
AGENT = "mission-control-agent"


class InstantOllama(FakeOllama):
    """Answers from the conversation itself, so any number of runs can share it: model
    ``bench`` lists pods until it has three results, then answers; ``hold`` asks to delete a
    pod (held for approval by the default policy)."""

    def __init__(self) -> None:
        super().__init__(models=("bench", "hold"))
        self._chat_lock = threading.Lock()

    def _chat(self, request: RecordedRequest, match: Any) -> Reply:
        body = json.loads(request.body)
        messages = body.get("messages", [])
        results = sum(1 for message in messages if message.get("role") == "tool")
        first = str(messages[0].get("content", "")) if messages else ""
        found = re.search(r"Run namespace: ([a-z0-9-]+)", first)
        namespace = found.group(1) if found else "default"
        with self._chat_lock:  # queue and take this conversation's turn together
            if body.get("model", "").startswith("hold") and results == 0:
                self.call(("delete_k8s_pod", {"namespace": namespace, "name": "web-0"}))
            elif body.get("model", "").startswith("bench") and results < STEPS_WITH_TOOLS:
                self.call(("list_k8s_pods", {"namespace": namespace}))
            else:
                self.say("All pods are fine.")
            return super()._chat(request, match)


# -- the API server ------------------------------------------------------------------------


def client_of(cluster: Cluster, *, limits: int = 100) -> httpx.AsyncClient:
    config = json.loads(cluster.kubeconfig.read_text())
    user = config["users"][0]["user"]
    server = config["clusters"][0]["cluster"]
    context = ssl.create_default_context(cafile=server["certificate-authority"])
    context.load_cert_chain(user["client-certificate"], user["client-key"])
    return httpx.AsyncClient(
        base_url=server["server"],
        verify=context,
        timeout=60,
        limits=httpx.Limits(max_connections=limits, max_keepalive_connections=limits),
    )


async def api_writes(cluster: Cluster) -> dict[tuple[str, str, str], float]:
    """``apiserver_request_total`` of writes, by (verb, resource, subresource)."""
    async with client_of(cluster) as client:
        text = (await client.get("/metrics")).text
    totals: dict[tuple[str, str, str], float] = defaultdict(float)
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_text, value = line[len("apiserver_request_total{") :].rsplit("} ", 1)
        labels = dict(
            part.split("=", 1) for part in labels_text.replace('"', "").split(",") if "=" in part
        )
        if labels.get("verb") in ("POST", "PUT", "PATCH", "DELETE", "APPLY"):
            key = (labels["verb"], labels.get("resource", ""), labels.get("subresource", ""))
            totals[key] += float(value)
    return totals


def taskrun(name: str, *, task: str, pending: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"taskRef": {"name": task}}
    if pending:
        spec["status"] = "Pending"
    return {
        "apiVersion": "missioncontrol.dev/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name},
        "spec": spec,
    }


def apply(cluster: Cluster, namespace: str, items: list[dict[str, Any]]) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    # Just after the CRDs are Established, discovery may not list them for a moment.
    deadline = time.monotonic() + 60
    while True:
        result = cluster.kubectl(
            "apply", "-n", namespace, "-f", "-", input=body, timeout=600, check=False
        )
        if result.returncode == 0:
            return
        if "ServiceUnavailable" not in result.stderr or time.monotonic() > deadline:
            raise RuntimeError(f"kubectl apply failed: {result.stderr[-2000:]}")
        time.sleep(0.5)


def namespace_with_agent(cluster: Cluster, namespace: str, *, model: str, tools: list[str]) -> None:
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("create", "serviceaccount", AGENT, "-n", namespace)
    cluster.kubectl(
        "create", "rolebinding", f"{AGENT}-view", "--clusterrole=view",
        f"--serviceaccount={namespace}:{AGENT}", "-n", namespace,
    )  # fmt: skip
    task = {
        "apiVersion": "missioncontrol.dev/v1alpha1",
        "kind": "Task",
        "metadata": {"name": "bench"},
        "spec": {
            "prompt": "Check the pods.",
            "tools": tools,
            "model": {"provider": "ollama", "name": model},
        },
    }
    apply(cluster, namespace, [task])


# -- 1. the ceiling ----------------------------------------------------------------------------


@dataclass
class Ceiling:
    writers: int
    per_second: float
    p99_ms: float


async def ceiling(cluster: Cluster, *, objects: int = 50, patches: int = 600) -> list[Ceiling]:
    namespace = "ceiling"
    cluster.kubectl("create", "namespace", namespace)
    apply(
        cluster,
        namespace,
        [taskrun(f"c-{i}", task="none", pending=True) for i in range(objects)],
    )
    results = []
    for writers in (1, 10, 50):
        total = patches // 2 if writers == 1 else patches
        latencies: list[float] = []
        async with client_of(cluster, limits=writers) as client:

            async def writer(
                index: int,
                count: int,
                client: httpx.AsyncClient = client,
                latencies: list[float] = latencies,
            ) -> None:
                path = f"{GROUP}/namespaces/{namespace}/taskruns/c-{index % objects}/status"
                for step in range(count):
                    began = time.perf_counter()
                    response = await client.patch(
                        path,
                        content=json.dumps({"status": {"steps": step + 1}}),
                        headers={"Content-Type": "application/merge-patch+json"},
                    )
                    if response.is_error:
                        raise RuntimeError(f"PATCH {path}: {response.status_code} {response.text}")
                    latencies.append(time.perf_counter() - began)

            began = time.perf_counter()
            await asyncio.gather(*(writer(i, total // writers) for i in range(writers)))
            elapsed = time.perf_counter() - began
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        results.append(Ceiling(writers, len(latencies) / elapsed, cuts[98] * 1000))
    # Gone before the operator is measured: its deletion writes too.
    cluster.kubectl("delete", "namespace", namespace, "--wait=true", timeout=300)
    return results


# -- 2. the operator ---------------------------------------------------------------------------


def _source_tree() -> dict[str, str]:
    """``PYTHONPATH`` made absolute, so the operator of a checkout runs, not the installed one."""
    given = os.environ.get("PYTHONPATH", "")
    entries = [os.path.abspath(entry) for entry in given.split(os.pathsep) if entry]
    return {"PYTHONPATH": os.pathsep.join(entries)} if entries else {}


class Operator:
    def __init__(self, *, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "mission-control"), "operator",
                 "-n", "bench-*", "--liveness", f"http://127.0.0.1:{self.port}/healthz"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent,
            )  # fmt: skip
        wait_until(self._live, timeout=90, what="the operator's liveness endpoint")

    def _live(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, grace=20)

    def cpu_seconds(self) -> float:
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_kib(self, key: str) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)


@dataclass
class Batch:
    runs: int
    seconds: float
    latencies: list[float]
    steps: int
    writes: dict[str, float]
    journal_rows: int
    cpu_seconds: float
    peak_rss_mib: float
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def writes_per_run(self) -> float:
        return sum(self.writes.values()) / self.runs


async def watch_until_done(
    cluster: Cluster, namespace: str, names: set[str], started: asyncio.Event, *, reason: str
) -> dict[str, tuple[float, dict[str, Any]]]:
    """Each run's end (time, object) as the watch delivers it; ``reason`` "" for any end."""
    done: dict[str, tuple[float, dict[str, Any]]] = {}
    async with client_of(cluster) as client:
        params = {"watch": "1", "allowWatchBookmarks": "false"}
        path = f"{GROUP}/namespaces/{namespace}/taskruns"
        async with client.stream("GET", path, params=params, timeout=None) as response:
            started.set()
            async for line in response.aiter_lines():
                event = json.loads(line)
                obj = event["object"]
                name = obj["metadata"]["name"]
                conditions = (obj.get("status") or {}).get("conditions") or []
                for condition in conditions:
                    if condition["type"] != "Succeeded":
                        continue
                    ended = condition["status"] in ("True", "False")
                    if (ended and not reason) or condition.get("reason") == reason:
                        done.setdefault(name, (time.perf_counter(), obj))
                if names <= done.keys():
                    return done
    return done


def classify(before: dict[Any, float], after: dict[Any, float]) -> dict[str, float]:
    kinds: dict[str, float] = defaultdict(float)
    for key, value in after.items():
        delta = value - before.get(key, 0.0)
        if delta <= 0:
            continue
        verb, resource, subresource = key
        if resource in ("leases", "namespaces"):
            continue  # the control plane's own leader election and namespace bookkeeping
        if resource == "taskruns" and subresource == "status":
            kinds["status"] += delta
        elif resource == "events":
            kinds["events"] += delta
        elif resource == "taskruns" and verb == "POST":
            continue  # the user's own creates
        elif resource == "taskruns":
            kinds["finalizer/annotations"] += delta
        else:
            kinds[f"other {verb} {resource}/{subresource}".rstrip("/")] += delta
    return dict(kinds)


async def batch(cluster: Cluster, operator: Operator, database: str, *, runs: int) -> Batch:
    namespace = f"bench-{runs}-{uuid.uuid4().hex[:4]}"
    namespace_with_agent(cluster, namespace, model="bench", tools=["list_k8s_pods"])
    names = {f"run-{i}" for i in range(runs)}
    writes_before = await api_writes(cluster)
    cpu_before = operator.cpu_seconds()
    watching = asyncio.Event()
    watch = asyncio.create_task(watch_until_done(cluster, namespace, names, watching, reason=""))
    await watching.wait()
    began = time.perf_counter()
    await asyncio.to_thread(
        apply, cluster, namespace, [taskrun(name, task="bench") for name in sorted(names)]
    )
    done = await watch
    seconds = max(t for t, _ in done.values()) - began
    await asyncio.sleep(3)  # the last Events after the final status patch
    writes = classify(writes_before, await api_writes(cluster))
    cpu = operator.cpu_seconds() - cpu_before
    with psycopg.connect(database) as db:
        row = db.execute(
            "SELECT count(*) FROM task_events e JOIN task_runs r ON r.uid = e.run_uid "
            "WHERE r.namespace = %s",
            (namespace,),
        ).fetchone()
    reasons: dict[str, int] = defaultdict(int)
    steps = 0
    for _, obj in done.values():
        status = obj.get("status") or {}
        steps += int(status.get("steps") or 0)
        reasons[status["conditions"][0]["reason"]] += 1
    return Batch(
        runs=runs,
        seconds=seconds,
        latencies=[t - began for t, _ in done.values()],
        steps=steps,
        writes=writes,
        journal_rows=int(row[0]) if row else 0,
        cpu_seconds=cpu,
        peak_rss_mib=operator.memory_kib("VmHWM") / 1024,
        reasons=dict(reasons),
    )


async def at_rest(
    cluster: Cluster, operator: Operator, *, finished_before: int, finished: int, held: int
) -> tuple[int, float]:
    """RSS (MiB) with ``finished`` finished runs and ``held`` runs waiting for approval."""
    more = max(0, finished - finished_before)
    if more:
        namespace = f"bench-rest-{uuid.uuid4().hex[:4]}"
        namespace_with_agent(cluster, namespace, model="bench", tools=["list_k8s_pods"])
        names = {f"done-{i}" for i in range(more)}
        watching = asyncio.Event()
        watch = asyncio.create_task(
            watch_until_done(cluster, namespace, names, watching, reason="")
        )
        await watching.wait()
        await asyncio.to_thread(
            apply, cluster, namespace, [taskrun(n, task="bench") for n in sorted(names)]
        )
        await watch
    if not held:
        return finished_before + more, operator.memory_kib("VmRSS") / 1024
    namespace = f"bench-held-{uuid.uuid4().hex[:4]}"
    namespace_with_agent(cluster, namespace, model="hold", tools=["delete_k8s_pod"])
    names = {f"held-{i}" for i in range(held)}
    watching = asyncio.Event()
    watch = asyncio.create_task(
        watch_until_done(cluster, namespace, names, watching, reason="AwaitingApproval")
    )
    await watching.wait()
    await asyncio.to_thread(
        apply, cluster, namespace, [taskrun(n, task="bench") for n in sorted(names)]
    )
    await watch
    await asyncio.sleep(5)  # let the garbage settle
    return finished_before + more, operator.memory_kib("VmRSS") / 1024


# -- 5. prompt overhead ------------------------------------------------------------------------


def prompt_overhead() -> tuple[int, int]:
    registry = default_registry()
    prompt = system_prompt(
        namespace="default", target_namespaces=("default",), tools=list(MVP_TOOLS)
    )
    schemas = [
        {
            "name": registry.get(name).name,
            "description": registry.get(name).description,
            "parameters": registry.get(name).json_schema(),
        }
        for name in MVP_TOOLS
    ]
    chars = len(prompt) + len(json.dumps(schemas, separators=(",", ":")))
    return chars, chars // 4


# -- the run -----------------------------------------------------------------------------------


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def profiler(operator: Operator, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the operator (collapsed stacks, one line per stack and its count)."""
    assert operator.process is not None
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
         str(operator.process.pid), "--format", "raw", "--rate", "100", "--gil",
         "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def main(*, sizes: list[int], finished: int, held: int, profile: Path | None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mc-bench-operator-"))
    ollama = InstantOllama()
    ollama.start()
    plane = LocalControlPlane(workdir=workdir / "controlplane", bin_dir=build_binaries())
    cluster = plane.start()
    operator: Operator | None = None
    try:
        cluster.install_crds(ROOT / "crds")
        with LocalPostgres(fsync=True) as postgres:
            database = postgres.url
            await apply_migrations(database)
            ceilings = await ceiling(cluster)
            best = max(ceilings, key=lambda c: c.per_second)
            key = workdir / "audit-key"
            key.write_text(secrets.token_hex(32))
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": os.environ.get("HOME", "/root"),
                "PYTHONUNBUFFERED": "1",
                "KUBECONFIG": str(cluster.kubeconfig),
                "DATABASE_URL": database,
                "OLLAMA_BASE_URL": ollama.url,
                "MC_AUDIT_KEY_FILE": str(key),
                "MC_METRICS_PORT": str(free_port()),
                "MC_INVENTORY_REFRESH_SECONDS": "60",
            }
            env.update(_source_tree())
            operator = Operator(env=env, log=workdir / "operator.log")
            operator.start()
            spy = None if profile is None else profiler(operator, profile)
            batches = [await batch(cluster, operator, database, runs=n) for n in sizes]
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
            operator.stop()
            # At rest: enough slots that every held run is active, not queued.
            operator = Operator(
                env={**env, "MC_MAX_CONCURRENT_RUNS": str(max(held, 20))},
                log=workdir / "operator-rest.log",
            )
            operator.start()
            total, rest_mib = await at_rest(
                cluster, operator, finished_before=sum(sizes), finished=finished, held=held
            )
    finally:
        if operator is not None:
            operator.stop()
        plane.stop()
        ollama.stop()
    report(ceilings, best, batches, (total, held, rest_mib), workdir)


def report(
    ceilings: list[Ceiling],
    best: Ceiling,
    batches: list[Batch],
    rest: tuple[int, int, float],
    workdir: Path,
) -> None:
    cores = os.cpu_count()
    print(f"operator benchmark ({cores} cores; logs in {workdir})")
    print("1. ceiling: bare merge-PATCH of TaskRun status, no operator running")
    for c in ceilings:
        print(f"   {c.writers:>3} writers  {c.per_second:7.1f} PATCH/s  p99 {c.p99_ms:7.1f} ms")
    print(f"   best: {best.per_second:.1f} PATCH/s at {best.writers} writers")
    print("2. operator (3 tool steps + final answer per run, MC_MAX_CONCURRENT_RUNS default)")
    for b in batches:
        steps = b.steps / b.runs
        writes = b.writes_per_run
        rate = b.runs / b.seconds
        ceiling_rate = best.per_second / writes
        detail = ", ".join(f"{k} {v / b.runs:.2f}" for k, v in sorted(b.writes.items()))
        print(
            f"   N={b.runs}: {rate:.1f} runs/s; apply->Succeeded p50 "
            f"{percentile(b.latencies, 50):.2f}s p99 {percentile(b.latencies, 99):.2f}s; "
            f"ends {b.reasons}"
        )
        print(f"     steps/run {steps:.1f}; API writes/run {writes:.2f} ({detail})")
        print(
            f"     journal rows/run {b.journal_rows / b.runs:.1f}; CPU/step "
            f"{b.cpu_seconds / max(b.steps, 1) * 1000:.2f} ms; peak RSS {b.peak_rss_mib:.0f} MiB"
        )
        print(
            f"   3. ratios: runs/s / (ceiling / writes per run) = {rate:.1f} / "
            f"{ceiling_rate:.1f} = {rate / ceiling_rate:.0%}; writes/run / (steps + 3) = "
            f"{writes:.2f} / {steps + 3:.0f} = {writes / (steps + 3):.2f}"
        )
    total, held, mib = rest
    print(f"4. memory at rest: RSS {mib:.0f} MiB with {total} finished and {held} held runs")
    chars, tokens = prompt_overhead()
    print(
        f"5. prompt overhead: system prompt + 8 MVP tool schemas = {chars} chars, "
        f"~{tokens} tokens (chars / 4)"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", default="50,200", help="batch sizes, comma-separated")
    parser.add_argument("--finished", type=int, default=1000, help="finished runs at rest")
    parser.add_argument("--held", type=int, default=100, help="runs awaiting approval at rest")
    parser.add_argument(
        "--profile", type=Path, help="py-spy the operator during the batches into this file"
    )
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    asyncio.run(
        main(
            sizes=[int(n) for n in args.runs.split(",")],
            finished=args.finished,
            held=args.held,
            profile=args.profile,
        )
    )
