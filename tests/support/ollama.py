"""A real Ollama server for tests and development, built from source by ``tests/ollama/build.sh``.

``ollama serve`` runs on a free loopback port with its own ``OLLAMA_MODELS`` and ``HOME`` in
``workdir``, so it never sees (or changes) a developer's models. Models are scripted ones
(:mod:`tests.support.scripted_model`), created through the HTTP API::

    with LocalOllama(workdir=Path("/tmp/ollama")) as server:
        name = server.create_scripted([say("Hello.")])

Run ``python -m tests.support.ollama DIR`` to start one with an example model and keep it
running.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import (
    exited,
    free_port,
    run_build,
    serve_for_development,
    spawn,
    start_retrying,
    stop_process,
    tail,
    wait_until,
)
from tests.support.scripted_model import Turn, build_scripted_model, call, say

__all__ = ["LocalOllama", "build_ollama"]

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "tests" / "ollama" / "build.sh"
START_TIMEOUT = 60.0
START_ATTEMPTS = 3  # a free port may be taken meanwhile: see start_retrying


def build_ollama() -> Path:
    """Build (or find cached) the ``ollama`` binary; the directory holding it."""
    return run_build(
        BUILD,
        failure="building Ollama failed (see the output above); it needs Go >= 1.26, the Go "
        "module proxy, gcc, g++ and the headers `make system-deps` installs",
    )


@dataclass
class LocalOllama:
    """``ollama serve`` on a free loopback port, its state in ``workdir``."""

    workdir: Path
    bin_dir: Path | None = None
    url: str = ""
    _process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LocalOllama:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def log(self) -> Path:
        return self.workdir / "ollama.log"

    def start(self) -> str:
        """Start the server and wait until it answers; its URL."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        binary = (self.bin_dir or build_ollama()) / "ollama"
        return start_retrying(
            lambda: self._start_once(binary),
            stop=lambda: self.stop(grace=1.0),
            attempts=START_ATTEMPTS,
        )

    def _start_once(self, binary: Path) -> str:
        port = free_port()
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "OLLAMA_HOST": f"127.0.0.1:{port}",
            "OLLAMA_MODELS": str(self.workdir / "models"),
            # Nothing here may reach ollama.com; and tests create and drop many small models.
            "OLLAMA_NO_CLOUD": "1",
            "OLLAMA_NOPRUNE": "1",
        }
        self._process = spawn([str(binary), "serve"], log=self.log, cwd=self.workdir, env=env)
        url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: _answers(f"{url}/api/version"),
            timeout=START_TIMEOUT,
            what=f"ollama at {url}",
            alive=self._dead,
        )
        self.url = url
        return url

    def stop(self, *, grace: float = 10.0) -> None:
        """Stop the server and its model runners (one process group)."""
        if self._process is not None:
            stop_process(self._process, grace=grace)
            # A runner outlives a server that died on its own: end whatever is left of the group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process = None

    def logs(self, *, lines: int = 40) -> str:
        return f"--- ollama.log (last {lines} lines) ---\n{tail(self.log, lines=lines)}"

    def _dead(self) -> str | None:
        return exited("ollama", self._process, log=self.log)

    # -- models ----------------------------------------------------------------------------

    def create_scripted(
        self,
        turns: Sequence[Turn],
        *,
        name: str | None = None,
        tools: bool = True,
        thinking: bool | None = None,
    ) -> str:
        """Create a scripted model (see :mod:`tests.support.scripted_model`); its name."""
        name = name or f"scripted-{uuid.uuid4().hex[:8]}"
        gguf = self.workdir / "gguf" / f"{name.replace(':', '-')}.gguf"
        gguf.parent.mkdir(exist_ok=True)
        model = build_scripted_model(turns, path=gguf, tools=tools, thinking=thinking)
        data = gguf.read_bytes()
        digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
        with httpx.Client(base_url=self.url, timeout=60) as client:
            client.post(f"/api/blobs/{digest}", content=data).raise_for_status()
            created = client.post(
                "/api/create",
                json={
                    "model": name,
                    "files": {gguf.name: digest},
                    "template": model.template,
                    "parameters": model.parameters,
                    "stream": False,
                },
            )
            if created.status_code != 200:
                raise RuntimeError(f"ollama create {name}: {created.status_code} {created.text}")
        gguf.unlink()
        return name

    def delete(self, name: str) -> None:
        """Delete a model (and let its runner go)."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            client.request("DELETE", "/api/delete", json={"model": name})


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


EXAMPLE_TURNS = (
    call("list_k8s_pods", namespace="default"),
    say(
        "This is a scripted model for trying Mission Control, not a language model: it "
        "listed the pods once and now always gives this answer."
    ),
)


def main(argv: list[str]) -> int:
    """Start a server in ``argv[0]`` (default ./.dev/ollama) with an example model."""
    server = LocalOllama(workdir=Path(argv[0] if argv else ".dev/ollama").resolve())

    def start() -> tuple[str, str]:
        server.start()
        name = server.create_scripted(EXAMPLE_TURNS, name="scripted-example")
        return f"{server.url}, model {name}", f"OLLAMA_BASE_URL={server.url} OLLAMA_MODEL={name}"

    return serve_for_development(name="ollama", start=start, stop=server.stop, logs=server.logs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
