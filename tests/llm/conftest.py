"""LLM tests: connections may only go to loopback (the fakes), and time can be faked."""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import Any

import pytest


def _require_loopback(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0]
    if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
        sock.close()  # callers only clean up after OSError
        raise AssertionError(
            f"an LLM test tried to connect to {host}; only the local fakes are allowed"
        )


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> None:
        _require_loopback(self, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _require_loopback(self, address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


class FakeTime:
    """A monotonic clock that only moves when someone sleeps on it (starts at the real one)."""

    def __init__(self) -> None:
        self.now = time.monotonic()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()
