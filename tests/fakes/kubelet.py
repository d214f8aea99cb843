"""A fake kubelet: the HTTPS endpoint the API server proxies pod logs to.

The API server answers ``GET /api/v1/namespaces/NS/pods/POD/log`` by calling the pod's node
at ``https://<InternalIP>:<daemonEndpoints.kubeletEndpoint.Port>/containerLogs/NS/POD/CONTAINER``
with ``tailLines``, ``sinceSeconds``, ``previous``, ``limitBytes`` and ``timestamps`` as query
parameters, and streams the body back. This fake serves scripted log lines there, honouring
those parameters the way the kubelet does, so log reads go through the real API server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tests.fakes.server import FakeServer, RecordedRequest, Reply
from tests.support.pki import CertificateAuthority

__all__ = ["FakeKubelet", "LogLine"]


@dataclass(frozen=True)
class LogLine:
    """One line a container wrote, and when."""

    text: str
    at: datetime


class FakeKubelet:
    """An HTTPS server with a certificate from the test CA, serving container logs."""

    def __init__(self, *, ca: CertificateAuthority, name: str = "fake-kubelet") -> None:
        pair = ca.serving(name)
        self.server = FakeServer(certfile=pair.cert, keyfile=pair.key)
        self.server.route("GET", r"/containerLogs/([^/]+)/([^/]+)/([^/]+)", self._container_logs)
        self._logs: dict[tuple[str, str, str, bool], list[LogLine]] = {}

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> FakeKubelet:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def write(
        self,
        *,
        namespace: str,
        pod: str,
        container: str,
        lines: list[str],
        previous: bool = False,
        ago: timedelta = timedelta(0),
    ) -> None:
        """Append ``lines`` to a container's log, as if written ``ago`` before now."""
        at = datetime.now(UTC) - ago
        log = self._logs.setdefault((namespace, pod, container, previous), [])
        log.extend(LogLine(text=text, at=at) for text in lines)

    def log_requests(self) -> list[RecordedRequest]:
        return self.server.requests_to("GET", r"/containerLogs/.*")

    def _container_logs(self, request: RecordedRequest, match: re.Match[str]) -> Reply:
        namespace, pod, container = match.groups()
        previous = request.query.get("previous", ["false"])[0] == "true"
        lines = self._logs.get((namespace, pod, container, previous))
        if lines is None:
            # The kubelet's answer when the container (or its previous instance) is unknown.
            which = "previous terminated container" if previous else "container"
            return Reply(
                400,
                f'{which} "{container}" in pod "{pod}" not found',
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
        if "sinceSeconds" in request.query:
            since = datetime.now(UTC) - timedelta(seconds=int(request.query["sinceSeconds"][0]))
            lines = [line for line in lines if line.at >= since]
        if "tailLines" in request.query:
            tail = int(request.query["tailLines"][0])
            lines = lines[-tail:] if tail else []
        stamped = request.query.get("timestamps", ["false"])[0] == "true"
        body = "".join(
            (f"{line.at:%Y-%m-%dT%H:%M:%S.%fZ} " if stamped else "") + line.text + "\n"
            for line in lines
        ).encode()
        if "limitBytes" in request.query:
            body = body[: int(request.query["limitBytes"][0])]
        return Reply(200, body, headers={"Content-Type": "text/plain"})
