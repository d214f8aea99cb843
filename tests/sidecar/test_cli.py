"""``mission-control sidecar`` and ``mission-control logs [-f]`` as users run them."""

from __future__ import annotations

import asyncio
import os
import pty
import signal
import socket
import ssl
import sys
from pathlib import Path

import httpx
import pytest

from mission_control.store import RunRecord, Store
from tests.sidecar.harness import TOKEN, Sidecar
from tests.sidecar.seed import add_run, append
from tests.sidecar.sse import read_stream
from tests.support.pki import CertificateAuthority

pytestmark = pytest.mark.postgres

BIN = Path(sys.executable).parent
ANSI = "\x1b["


def _environment(**settings: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MC_", "DATABASE_", "API_AUTH", "KUBECONFIG"))
    }
    env.update(settings)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _run_with_events(store: Store, name: str) -> RunRecord:
    run = await add_run(store, namespace="ops", name=name)
    await append(store, run, "run.started")
    await append(store, run, "llm.request", step=1, provider="ollama", model="qwen")
    await append(
        store,
        run,
        "llm.response",
        step=1,
        finishReason="tool_calls",
        promptTokens=100,
        completionTokens=20,
        costUSD="0",
        messages=[
            {
                "role": "assistant",
                "content": "Let me look at the pods.",
                "tool_calls": [{"id": "c1", "name": "list_k8s_pods", "arguments": {"ns": "ops"}}],
            }
        ],
    )
    await append(
        store,
        run,
        "tool.decision",
        toolCallId="c1",
        tool="list_k8s_pods",
        risk="READ_ONLY",
        arguments={"ns": "ops"},
        verdict="Allow",
        reason="read-only default",
    )
    await append(store, run, "tool.result", toolCallId="c1", tool="list_k8s_pods",
                 status="completed", output="web-0 Running\n" * 100)  # fmt: skip
    return run


async def test_the_sidecar_command_serves_the_api_and_streams(
    store: Store, readonly_url: str
) -> None:
    run = await _run_with_events(store, "served")
    await append(store, run, "run.finished", reason="Succeeded", summary="All pods run.")
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        str(BIN / "mission-control"),
        "sidecar",
        env=_environment(
            DATABASE_URL=readonly_url, API_AUTH_TOKEN=TOKEN, MC_SIDECAR_PORT=str(port)
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30.0,
        ) as client:
            health = None
            while health is None:
                try:
                    health = await client.get("/api/v1/health")
                except httpx.TransportError:
                    assert process.returncode is None, await process.stderr.read()  # type: ignore[union-attr]
                    await asyncio.sleep(0.1)
            got = await read_stream(client, "/api/v1/task-runs/ops/served/events/stream")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await process.communicate()
    assert health.json()["connectors"]["database"] is True
    assert got.types[-1] == "run.finished"
    assert got.seqs == list(range(1, 7))
    # A graceful stop; uvicorn then lets SIGTERM end the process as it would have.
    assert "Finished server process" in stderr.decode()
    assert process.returncode == -signal.SIGTERM


async def test_the_sidecar_command_without_a_token_names_the_variable(readonly_url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        str(BIN / "mission-control"),
        "sidecar",
        env=_environment(DATABASE_URL=readonly_url),
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()

    assert process.returncode == 2
    assert stderr.decode().startswith("configuration error: API_AUTH_TOKEN: is not set")


async def _logs(sidecar: Sidecar, *args: str) -> asyncio.subprocess.Process:
    """``mission-control logs ARGS`` against the sidecar, its output piped."""
    return await asyncio.create_subprocess_exec(
        str(BIN / "mission-control"), "logs", *args,
        env=_environment(MC_API_URL=sidecar.url, API_AUTH_TOKEN=TOKEN),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_logs_prints_a_run_for_a_pipe_without_colours(store: Store, sidecar: Sidecar) -> None:
    run = await _run_with_events(store, "printed")
    await append(store, run, "run.finished", reason="Succeeded", summary="All pods run.")

    process = await _logs(sidecar, "printed", "-n", "ops")
    stdout, stderr = await process.communicate()
    text = stdout.decode()

    assert process.returncode == 0, stderr
    assert ANSI not in text
    lines = text.splitlines()
    assert lines[0].split() == ["1", "run", "started"]
    assert "step 1: asking ollama qwen" in lines[1]
    assert "Let me look at the pods." in text
    assert 'calls list_k8s_pods({"ns": "ops"})' in text
    assert 'list_k8s_pods({"ns": "ops"}) [READ_ONLY] → Allow (read-only default)' in text
    result = next(line for line in lines if "list_k8s_pods completed" in line)
    assert result.endswith("…")  # the output is shortened
    assert len(result) < 400
    assert "finished: Succeeded" in text
    assert "All pods run." in text
    assert lines[-1].startswith("ops/printed: Started, 2 steps, 0 tool calls, 120+30 tokens, $")


async def test_logs_of_an_unknown_run_fails_with_the_reason(sidecar: Sidecar) -> None:
    process = await _logs(sidecar, "nothing", "-n", "ops")
    _, stderr = await process.communicate()

    assert process.returncode == 1
    assert stderr.decode().strip() == "logs failed: taskrun ops/nothing: no task run ops/nothing"


async def test_logs_follow_prints_live_events_in_order_and_exits_at_the_end_piped(
    store: Store, sidecar: Sidecar
) -> None:
    run = await add_run(store, namespace="ops", name="followed")
    await append(store, run, "run.started")
    process = await _logs(sidecar, "followed", "-n", "ops", "-f")
    assert process.stdout is not None
    first = await process.stdout.readline()  # following now

    for n in range(5):
        await append(store, run, "tool.result", tool=f"tool-{n}", status="completed", output=n)
    await append(store, run, "run.finished", reason="Succeeded")
    rest, stderr = await process.communicate()

    assert b"run started" in first, stderr
    lines = rest.decode().splitlines()
    assert [line.split()[1] for line in lines[:5]] == [f"tool-{n}" for n in range(5)]
    assert "finished: Succeeded" in lines[5]
    assert process.returncode == 0


async def test_logs_follow_on_a_terminal_is_coloured_and_exits_at_the_end(
    store: Store, sidecar: Sidecar
) -> None:
    run = await add_run(store, namespace="ops", name="terminal")
    await append(store, run, "run.started")
    primary, secondary = pty.openpty()
    process = await asyncio.create_subprocess_exec(
        str(BIN / "mission-control"), "logs", "terminal", "-n", "ops", "-f",
        env=_environment(MC_API_URL=sidecar.url, API_AUTH_TOKEN=TOKEN),
        stdout=secondary, stderr=secondary,
    )  # fmt: skip
    os.close(secondary)
    output = bytearray()

    async def read_until(marker: bytes) -> None:
        while marker not in output:
            try:
                chunk = await asyncio.to_thread(os.read, primary, 4096)
            except OSError:  # the terminal closed: the process is gone
                return
            if not chunk:
                return
            output.extend(chunk)

    try:
        await read_until(b"run started")
        await append(store, run, "tool.result", tool="list_k8s_pods", status="failed", output="x")
        await append(store, run, "run.finished", reason="Failed", message="gave up")
        await read_until(b"tokens")
        await process.wait()
    finally:
        os.close(primary)

    text = output.decode()
    assert process.returncode == 0
    assert ANSI in text
    assert text.index("run started") < text.index("list_k8s_pods") < text.index("gave up")


async def test_the_sidecar_serves_https_with_its_own_certificate(
    store: Store, readonly_url: str, tmp_path: Path
) -> None:
    await _run_with_events(store, "secure")
    ca = CertificateAuthority(tmp_path / "pki")
    serving = ca.serving("sidecar")
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        str(BIN / "mission-control"),
        "sidecar",
        env=_environment(
            DATABASE_URL=readonly_url,
            API_AUTH_TOKEN=TOKEN,
            MC_SIDECAR_PORT=str(port),
            MC_SIDECAR_TLS_CERT=str(serving.cert),
            MC_SIDECAR_TLS_KEY=str(serving.key),
        ),
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            verify=ssl.create_default_context(cafile=str(ca.cert)),
            timeout=30.0,
        ) as client:
            run = None
            while run is None:
                try:
                    run = await client.get("/api/v1/task-runs/ops/secure")
                except httpx.ConnectError:
                    assert process.returncode is None
                    await asyncio.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        await process.communicate()

    assert run.status_code == 200
    assert run.json()["events"] == 5
