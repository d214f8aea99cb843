"""A ntfy server double: the publish API as ntfy documents it (``POST /`` with a JSON message).

A publish is ``POST /`` with ``{"topic", "title", "message"}`` and the options as headers
(``X-Priority``, ``X-Tags``, ``X-Click``, ``X-Actions``, ``Authorization``); ntfy answers with
the message it stored. Publishing to a topic with ``refuse`` set answers 503, as a ntfy
server that is down behind its proxy.
"""

from __future__ import annotations

import re
import time
import uuid

from tests.fakes.server import FakeServer, RecordedRequest, Reply

__all__ = ["FakeNtfy"]


class FakeNtfy:
    """ntfy's publish endpoint on a loopback port; ``published`` is every accepted message."""

    def __init__(self) -> None:
        self.server = FakeServer()
        self.refuse = False
        self.server.route("POST", r"/", self._publish)

    @property
    def port(self) -> int:
        return self.server.port

    def url(self, topic: str, *, token: str | None = None) -> str:
        """The Apprise URL of ``topic`` on this server (``ntfy://`` is plain HTTP)."""
        auth = f"{token}@" if token else ""
        return f"ntfy://{auth}127.0.0.1:{self.port}/{topic}"

    @property
    def published(self) -> list[RecordedRequest]:
        return self.server.requests_to("POST", "/")

    def _publish(self, request: RecordedRequest, _: re.Match[str]) -> Reply:
        if self.refuse:
            return Reply(503, {"code": 50301, "http": 503, "error": "service unavailable"})
        body = request.json()
        return Reply(
            200,
            {
                "id": uuid.uuid4().hex[:12],
                "time": int(time.time()),
                "event": "message",
                "topic": body["topic"],
                "title": body.get("title", ""),
                "message": body.get("message", ""),
            },
        )

    def __enter__(self) -> FakeNtfy:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
