"""Small helpers for test infrastructure that runs real servers: free ports, waiting, stopping."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["die_with_parent", "free_port", "stop_process", "tail", "wait_until"]

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` for servers we start: the kernel kills them if the test process dies.

    Without it a killed test run (timeout, Ctrl-C twice) would leave etcd and the API
    server running on the machine.
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    alive: Callable[[], str | None] | None = None,
) -> None:
    """Poll ``condition`` until it holds; raise naming ``what`` after ``timeout`` seconds.

    ``alive`` returns a reason when a process we wait on has died, to fail fast with it.
    """
    deadline = time.monotonic() + timeout
    while True:
        # A dead process first: a condition probing it may block until its own timeout.
        if alive is not None and (reason := alive()) is not None:
            raise RuntimeError(f"gave up waiting for {what}: {reason}")
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f}s")
        time.sleep(interval)


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it after ``grace`` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


def tail(path: Path, *, lines: int = 40, width: int = 400) -> str:
    """The last ``lines`` lines of a log file, each cut to ``width`` characters."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(
        line if len(line) <= width else line[:width] + " [...]"
        for line in text.splitlines()[-lines:]
    )
