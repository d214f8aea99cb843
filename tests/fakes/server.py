"""A small scripted HTTP(S) server for test doubles of external services.

Each fake (Ollama, Gemini, Anthropic, Proxmox VE, Argo CD, a kubelet) is a real server on a
free loopback port that speaks the service's documented wire format, so the project's code is
exercised through the official client libraries over real sockets. A fake is built from:

- routes: ``(method, regex)`` -> handler returning a :class:`Reply` (the default behaviour);
- a script: replies queued for a route with :meth:`FakeServer.enqueue`, used first, in order;
- a record of every request received (:attr:`FakeServer.requests`), for exact assertions.

A reply's body may be an iterable of byte chunks, sent with chunked transfer encoding
(NDJSON or SSE streaming).
"""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeServer", "RecordedRequest", "Reply"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)


@dataclass
class Reply:
    """What the fake sends back. ``body`` may be bytes, text, a JSON value, or chunks."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None  # status-line reason phrase (Proxmox puts errors there)
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    chunk_delay: float = 0.0  # seconds between streamed chunks
    #: Read the whole request, then reset the connection (RST) without answering: a server
    #: or proxy that died after the request arrived.
    reset: bool = False
    #: Never answer: keep the request open until the client closes its connection, then
    #: record it in :attr:`FakeServer.abandoned` (a client that gave up on a slow answer).
    hold: bool = False

    def encoded(self) -> tuple[bytes | Iterator[bytes], dict[str, str]]:
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, bytes):
            return body, headers
        if isinstance(body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return body.encode(), headers
        if isinstance(body, (dict, list)):
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(body).encode(), headers
        if isinstance(body, Iterable):
            return (
                chunk if isinstance(chunk, bytes) else str(chunk).encode() for chunk in body
            ), headers
        raise TypeError(f"unsupported reply body {type(body).__name__}")


Handler = Callable[[RecordedRequest, "re.Match[str]"], Reply]


class FakeServer:
    """A threaded HTTP(S) server on 127.0.0.1 with routes, a reply script and a request log."""

    def __init__(self, *, certfile: Path | None = None, keyfile: Path | None = None) -> None:
        self.requests: list[RecordedRequest] = []
        #: Called with each request once its reply is chosen (to stage a change between two
        #: requests, e.g. an outage that starts right after an answer).
        self.after_request: Callable[[RecordedRequest], None] | None = None
        #: Requests answered with a ``hold`` reply whose client closed the connection.
        self.abandoned: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._script: list[tuple[str, re.Pattern[str], deque[Reply]]] = []
        self._lock = threading.Lock()
        # Open keep-alive connections: stop() closes them too, so a stopped server is down.
        self._connections: set[socket.socket] = set()
        self._tls_files = (certfile, keyfile)
        self.tls = certfile is not None
        self._httpd = self._listen(0)
        self._thread: threading.Thread | None = None
        self._port_while_down = 0

    def _listen(self, port: int) -> ThreadingHTTPServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        httpd.daemon_threads = True
        certfile, keyfile = self._tls_files
        if certfile is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        return httpd

    # -- configuration ---------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Answer ``method`` requests whose path fully matches ``pattern`` with ``handler``."""
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def enqueue(self, method: str, pattern: str, *replies: Reply) -> None:
        """Queue replies for matching requests; they are used once each, before any route."""
        with self._lock:
            self._script.append((method.upper(), re.compile(pattern), deque(replies)))

    def clear_script(self) -> None:
        """Drop the replies still queued by :meth:`enqueue`."""
        with self._lock:
            self._script.clear()

    def requests_to(self, method: str, pattern: str) -> list[RecordedRequest]:
        regex = re.compile(pattern)
        return [r for r in self.requests if r.method == method.upper() and regex.fullmatch(r.path)]

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._stopping.clear()  # a server that comes back holds replies again
        # A short poll keeps stop() fast: every test stops at least one fake.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is None:  # never started, or already down
            self._httpd.server_close()
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self._thread = None

    def go_down(self) -> None:
        """Stop listening, as a server that was switched off: connections are refused."""
        self._port_while_down = self.port
        self.stop()

    def come_back(self) -> None:
        """Listen again on the same port (after :meth:`go_down`)."""
        self._httpd = self._listen(self._port_while_down)
        self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- dispatch --------------------------------------------------------------------------

    def _dispatch(self, request: RecordedRequest) -> Reply:
        reply = self._choose(request)
        hook = self.after_request
        if hook is not None:
            hook(request)
        return reply

    def _choose(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            for method, pattern, queue in self._script:
                if method == request.method and pattern.fullmatch(request.path) and queue:
                    return queue.popleft()
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                return handler(request, match)
        return Reply(404, {"error": f"fake has no route for {request.method} {request.path}"})

    def _hung_up(self, connection: socket.socket) -> bool:
        """Wait until the client closes ``connection`` (True) or the fake stops (False)."""
        while not self._stopping.is_set():
            readable, _, _ = select.select([connection], [], [], 0.1)
            if not readable:
                continue
            try:
                # The TCP stream itself (under TLS too): empty means the client sent FIN.
                if socket.socket.recv(connection, 1, socket.MSG_PEEK) == b"":
                    return True
            except OSError:
                return True  # reset by the client
            time.sleep(0.1)  # bytes of a next request: not a hang-up
        return False

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._connections.add(self.connection)

            def finish(self) -> None:
                with server._lock:
                    server._connections.discard(self.connection)
                super().finish()

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=url.path,
                    query=parse_qs(url.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                reply = server._dispatch(request)
                if reply.hold:
                    if server._hung_up(self.connection):
                        with server._lock:
                            server.abandoned.append(request)
                    self.close_connection = True
                    return
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.reset:
                    # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    self.connection.close()
                    return
                payload, headers = reply.encoded()
                try:
                    self.send_response(reply.status, reply.reason)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    if isinstance(payload, bytes):
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for chunk in payload:
                        if reply.chunk_delay:
                            time.sleep(reply.chunk_delay)
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeouts, cancellation): nothing to answer

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        return _Handler
