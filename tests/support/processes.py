"""Small helpers for test infrastructure that runs real servers: free ports, starting, waiting,
stopping."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

__all__ = [
    "die_with_parent",
    "exited",
    "free_port",
    "occupied_port",
    "run_build",
    "serve_for_development",
    "spawn",
    "start_retrying",
    "stop_process",
    "tail",
    "wait_until",
]

T = TypeVar("T")

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


def run_build(script: Path, *, failure: str) -> Path:
    """Run a ``build.sh`` that builds (or finds cached) programs and prints, last, the directory
    holding them; that directory. Its other output goes to ours; ``failure`` says what it needs."""
    result = subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(failure)
    return Path(result.stdout.strip().splitlines()[-1])


def spawn(
    command: Sequence[str], *, log: Path, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server in a process group of its own (see :func:`stop_process`), killed with the
    test process, its output appended to ``log``: the log of a failed attempt stays next to the
    one that followed it."""
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=cwd,
            preexec_fn=die_with_parent,
        )


def exited(
    name: str, process: subprocess.Popen[bytes] | None, *, log: Path, lines: int = 40
) -> str | None:
    """Why ``process`` is gone (its exit code and the end of its log); None while it runs."""
    if process is None or process.poll() is None:
        return None
    return f"{name} exited with code {process.returncode}:\n{tail(log, lines=lines)}"


def start_retrying(
    start_once: Callable[[], T],
    *,
    stop: Callable[[], None],
    attempts: int,
    before_retry: Callable[[], None] | None = None,
) -> T:
    """``start_once()``, stopping what it started (``stop``) when it fails.

    :func:`free_port` only says a port was free a moment ago; another process may take it
    before a server binds it. Such a start is tried again (on new ports) up to ``attempts``
    times in all, after ``before_retry``; any other failure is raised at once.
    """
    for attempt in range(1, attempts + 1):
        try:
            return start_once()
        except BaseException as exc:
            stop()
            if attempt == attempts or "address already in use" not in str(exc):
                raise
            if before_retry is not None:
                before_retry()
    raise AssertionError("unreachable")


def serve_for_development(
    *,
    name: str,
    start: Callable[[], tuple[str, str]],
    stop: Callable[[], None],
    logs: Callable[[], str],
) -> int:
    """Start a server for development and keep it running until Ctrl-C, then stop it.

    ``start`` returns where the server is and the ``NAME=value`` settings that reach it, both
    printed; when it fails, the servers' ``logs`` are printed and what started is stopped.
    """
    started = time.monotonic()
    try:
        where, settings = start()
    except Exception:
        print(logs(), file=sys.stderr)
        stop()
        raise
    print(f"{name} ready in {time.monotonic() - started:.1f}s: {where}")
    print(f"export {settings}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
    return 0


@contextlib.contextmanager
def occupied_port() -> Iterator[int]:
    """A loopback port another socket is listening on, as if taken after :func:`free_port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


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
