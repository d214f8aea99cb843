"""An HTTPS proxy in front of the real API server: a fault injector for the end-to-end tests.

The operator is given :attr:`ApiServerProxy.kubeconfig` instead of the cluster's; every request
goes through the proxy to the real API server (with the cluster's admin certificate, which is
what the operator's kubeconfig holds anyway; impersonation headers pass through untouched), and
responses, watches included, stream back. Two faults a real API server will not produce on
demand:

- :meth:`ApiServerProxy.hold` catches the next request matching a method and a path and keeps
  it: the test decides whether it reaches the API server (:meth:`Hold.send_upstream`) or not,
  and the client never gets an answer (:meth:`Hold.drop` closes its connection). A test kills
  the operator while the request is held (it never reached the server) or once the server has
  answered it (the mutation happened, the operator never learned so).
- :meth:`ApiServerProxy.down` closes the port and every open connection; :meth:`up` opens it
  again on the same port: the API server unreachable for a while.

:attr:`ApiServerProxy.forwarded` lists every request that reached the API server, to count
mutations exactly.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.controlplane.launcher import Cluster
from tests.support.processes import free_port

__all__ = ["ApiServerProxy", "Hold"]

# Hop-by-hop and framing headers: each side of the proxy sets its own.
_NOT_FORWARDED = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"}
)
_POLL_SECONDS = 0.05
_STOP_SECONDS = 10
# What the client library would add on its own: the request goes on as the operator sent it
# (the API server reads a body without a Content-Type as JSON, not as octet-stream).
_AUTO_HEADERS = ("Content-Type", "User-Agent", "Accept", "Accept-Encoding")


@dataclass
class Hold:
    """One request caught by :meth:`ApiServerProxy.hold`; the test decides its fate."""

    method: str
    pattern: re.Pattern[str]
    #: Set when the request arrived (and is being held).
    arrived: threading.Event = field(default_factory=threading.Event)
    #: Set when the API server answered it (after :meth:`send_upstream`).
    answered: threading.Event = field(default_factory=threading.Event)
    #: The API server's status code for it, once answered.
    status: int = 0
    _upstream: threading.Event = field(default_factory=threading.Event)
    _dropped: threading.Event = field(default_factory=threading.Event)
    _decided: threading.Event = field(default_factory=threading.Event)

    def send_upstream(self) -> None:
        """Let the held request reach the API server; its answer is kept from the client."""
        self._upstream.set()
        self._decided.set()

    def drop(self) -> None:
        """Close the client's connection without an answer (and without sending it on, unless
        :meth:`send_upstream` came first)."""
        self._dropped.set()
        self._decided.set()

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self.pattern.fullmatch(path) is not None


class ApiServerProxy:
    """See the module docstring. Runs its own event loop in a thread; use as a context manager."""

    def __init__(self, cluster: Cluster, *, workdir: Path) -> None:
        assert cluster.ca is not None, "the proxy needs the local control plane's CA"
        config = json.loads(cluster.kubeconfig.read_text())
        user = config["users"][0]["user"]
        ca_file = config["clusters"][0]["cluster"]["certificate-authority"]
        self._upstream = cluster.server
        self._client_tls = ssl.create_default_context(cafile=ca_file)
        self._client_tls.load_cert_chain(user["client-certificate"], user["client-key"])
        serving = cluster.ca.serving(f"apiserver-proxy-{workdir.name}")
        self._server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_tls.load_cert_chain(str(serving.cert), str(serving.key))
        self.port = free_port()
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        self.kubeconfig = workdir / "proxied.kubeconfig"
        self.kubeconfig.write_text(json.dumps(config, indent=2))
        self.kubeconfig.chmod(0o600)
        #: (method, path) of every request that reached the API server, in order.
        self.forwarded: list[tuple[str, str]] = []
        self._holds: list[Hold] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    # -- control (from the test's thread) ------------------------------------------------------

    def __enter__(self) -> ApiServerProxy:
        self._thread.start()
        self._call(self._open_session())
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            for hold in self._holds:
                hold.drop()
        self.down()
        self._call(self._close_session())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def up(self) -> None:
        """Listen (again) on :attr:`port`."""
        self._call(self._start())

    def down(self) -> None:
        """Stop listening and cut every open connection: the API server is unreachable."""
        self._call(self._stop())

    def hold(self, method: str, path: str) -> Hold:
        """Catch the next ``method`` request whose path fully matches the regex ``path``."""
        hold = Hold(method=method.upper(), pattern=re.compile(path))
        with self._lock:
            self._holds.append(hold)
        return hold

    def count(self, method: str, path: str) -> int:
        """How many ``method`` requests for exactly ``path`` reached the API server."""
        with self._lock:
            return sum(1 for seen in self.forwarded if seen == (method.upper(), path))

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    # -- the proxy (in its own loop) ----------------------------------------------------------

    async def _open_session(self) -> None:
        connector = aiohttp.TCPConnector(ssl=self._client_tls)
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None)
        )

    async def _close_session(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        # No grace for open handlers on down(): watches never end on their own.
        runner = web.AppRunner(app, shutdown_timeout=0, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(
            runner, "127.0.0.1", self.port, ssl_context=self._server_tls, reuse_address=True
        )
        await site.start()
        self._runner = runner

    async def _stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            for site in list(runner.sites):
                await site.stop()  # first: no new connection is accepted from here on
        # Watches never end on their own: cut every open connection.
        if runner is not None and runner.server is not None:
            for connection in runner.server.connections:
                if connection.transport is not None:
                    connection.transport.abort()
        for handler in list(self._handlers):
            handler.cancel()
        await asyncio.wait_for(
            asyncio.gather(*self._handlers, return_exceptions=True), timeout=_STOP_SECONDS
        )
        if runner is not None:
            await asyncio.wait_for(runner.cleanup(), timeout=_STOP_SECONDS)

    def _caught(self, method: str, path: str) -> Hold | None:
        with self._lock:
            for hold in self._holds:
                if hold.matches(method, path):
                    self._holds.remove(hold)
                    return hold
        return None

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            return await self._relay(request)
        except asyncio.CancelledError:
            if request.transport is not None:
                request.transport.abort()
            raise
        except (ConnectionError, aiohttp.ClientError):
            # The operator hung up (it was killed) or the API server did: nothing to answer.
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=502)
        finally:
            self._handlers.discard(task)

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        hold = self._caught(request.method, request.path)
        if hold is not None:
            return await self._held(request, hold, body)
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
        with self._lock:
            self.forwarded.append((request.method, request.path))
        async with self._session.request(
            request.method,
            self._upstream + request.path_qs,
            headers=headers,
            data=body or None,
            allow_redirects=False,
            skip_auto_headers=_AUTO_HEADERS,
        ) as upstream:
            reply_headers = {
                k: v for k, v in upstream.headers.items() if k.lower() not in _NOT_FORWARDED
            }
            response = web.StreamResponse(status=upstream.status, headers=reply_headers)
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def _held(self, request: web.Request, hold: Hold, body: bytes) -> web.StreamResponse:
        hold.arrived.set()
        await _set(hold._decided)
        if hold._upstream.is_set():
            assert self._session is not None
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
            with self._lock:
                self.forwarded.append((request.method, request.path))
            async with self._session.request(
                request.method,
                self._upstream + request.path_qs,
                headers=headers,
                data=body,
                skip_auto_headers=_AUTO_HEADERS,
            ) as upstream:
                await upstream.read()
                hold.status = upstream.status
            hold.answered.set()
        await _set(hold._dropped)
        raise ConnectionResetError("held request dropped")


async def _set(event: threading.Event) -> None:
    """Wait for an event the test's thread sets (an asyncio.Event cannot be set from there)."""
    while not event.is_set():  # noqa: ASYNC110
        await asyncio.sleep(_POLL_SECONDS)
