"""The launcher of the tests' Ollama copes with a taken port and leaves no runner behind."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ollama as launcher
from tests.support import processes
from tests.support.processes import occupied_port, wait_until
from tests.support.scripted_model import say

pytestmark = pytest.mark.ollama


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another process is listening on."""
    with occupied_port() as port:
        yield port


def test_a_port_taken_after_it_was_picked_is_retried_on_a_fresh_one(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    picks = iter([taken_port])
    real_free_port = processes.free_port
    monkeypatch.setattr(launcher, "free_port", lambda: next(picks, None) or real_free_port())

    with launcher.LocalOllama(workdir=tmp_path / "ollama") as server:
        version = httpx.get(f"{server.url}/api/version", timeout=10).json()

    assert f":{taken_port}" not in server.url
    assert version == {"version": "0.17.4"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"


def _runners(server_pid: int) -> list[int]:
    """Processes in the server's process group other than the server (the model runners)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != server_pid:
            try:
                if os.getpgid(int(entry.name)) == server_pid:
                    found.append(int(entry.name))
            except ProcessLookupError:
                continue
    return found


def test_stopping_a_server_that_died_also_ends_its_model_runner(tmp_path: Path) -> None:
    server = launcher.LocalOllama(workdir=tmp_path / "ollama")
    server.start()
    try:
        name = server.create_scripted([say("hi")])
        body = {"model": name, "stream": False, "messages": [{"role": "user", "content": "x"}]}
        answer = httpx.post(f"{server.url}/api/chat", json=body, timeout=60).json()
        assert server._process is not None
        pid = server._process.pid
        runners = _runners(pid)
        os.kill(pid, signal.SIGKILL)  # as if it crashed
        server._process.wait(timeout=10)
    finally:
        server.stop()

    assert answer["message"]["content"] == "hi"
    assert runners  # the chat loaded the model into a runner of its own
    wait_until(lambda: not any(_alive(pid) for pid in runners), timeout=5, what="runners gone")
