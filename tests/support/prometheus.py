"""Run a real Prometheus (the Debian package) on a free loopback port for tests.

It scrapes one local target every second: a :class:`MetricsTarget`, an HTTP server whose
``/metrics`` text the test sets. :meth:`PrometheusServer.start` returns once the server is
ready and has scraped the target at least once (polled with a bound, never a fixed sleep).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.fakes.server import FakeServer, RecordedRequest, Reply
from tests.support.processes import free_port

__all__ = ["PROMETHEUS_BINARY", "MetricsTarget", "PrometheusServer"]

PROMETHEUS_BINARY = Path("/usr/bin/prometheus")
READY_TIMEOUT = 60.0


class MetricsTarget:
    """A scrape target serving the Prometheus text format; values are set by the test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.server = FakeServer()
        self.server.route("GET", "/metrics", self._metrics)

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._samples[(name, tuple(sorted(labels.items())))] = value

    def _metrics(self, request: RecordedRequest, match: Any) -> Reply:
        with self._lock:
            lines = []
            for (name, labels), value in sorted(self._samples.items()):
                rendered = ",".join(f'{k}="{v}"' for k, v in labels)
                lines.append(f"{name}{{{rendered}}} {value!r}")
        return Reply(
            200,
            ("\n".join(lines) + "\n").encode(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )


class PrometheusServer:
    """One Prometheus process with its own config and TSDB directory."""

    def __init__(
        self, *, workdir: Path, target: MetricsTarget | None = None, scrape: str | None = None
    ) -> None:
        """Scrape ``target``, or the ``host:port`` given as ``scrape`` (a process under test)."""
        if (target is None) == (scrape is None):
            raise ValueError("give a MetricsTarget or an address to scrape, not both")
        self.workdir = workdir
        self.target = target
        self.scrape = scrape or f"127.0.0.1:{target.server.port}"  # type: ignore[union-attr]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "prometheus.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrometheusServer:
        if shutil.which(str(PROMETHEUS_BINARY)) is None:
            raise RuntimeError(
                f"{PROMETHEUS_BINARY} not found: install the Debian package 'prometheus'"
            )
        config = self.workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: target\n    static_configs:\n"
            f"      - targets: ['{self.scrape}']\n"
        )
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(PROMETHEUS_BINARY),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--web.enable-lifecycle",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait(lambda: self._get("/-/ready") is not None, "become ready")
            self._wait(self._scraped, "scrape the target once")
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def query(self, expr: str) -> Any:
        body = self._get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        return None if body is None else json.loads(body)

    def series(self, expr: str) -> list[dict[str, Any]]:
        """The series ``expr`` evaluates to now; fails the test if Prometheus refuses it."""
        answer = self.query(expr)
        assert answer is not None, expr
        assert answer["status"] == "success", (expr, answer)
        return list(answer["data"]["result"])

    def _scraped(self) -> bool:
        answer = self.query('up{job="target"}')
        result = answer["data"]["result"] if answer else []
        return bool(result) and result[0]["value"][1] == "1"

    def _get(self, path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as response:
                return bytes(response.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def _wait(self, condition: Any, what: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited with {self._process.returncode} before it could {what}:\n"
                    + self.log.read_text(errors="replace")[-2000:]
                )
            if condition():
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"prometheus did not {what} within {READY_TIMEOUT:g}s:\n"
            + self.log.read_text(errors="replace")[-2000:]
        )
