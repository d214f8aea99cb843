"""A TCP proxy in front of PostgreSQL that can lose the reply to a committed statement.

``drop_reply_to(marker)`` arms it: the next client message containing ``marker`` goes to the
server, which runs (and, in autocommit, commits) it; the proxy swallows the server's reply up
to and including ``ReadyForQuery`` — by then the commit is done — and closes the client's
connection. The client sees a broken connection after a successful commit, which is exactly
what a network failure at the wrong moment does.

Clients must connect with ``sslmode=disable&gssencmode=disable``, so that every message the
server sends is framed (type byte, 4-byte length) from the first byte on.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

__all__ = ["AckDroppingProxy", "ack_dropping_proxy"]

_READY_FOR_QUERY = b"Z"


class AckDroppingProxy:
    """Forwards 127.0.0.1:``port`` to the server; see the module docstring."""

    def __init__(self, *, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._marker: bytes | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.dropped = 0
        self.port = 0

    def drop_reply_to(self, marker: bytes) -> None:
        """Lose the reply to the next client message that contains ``marker`` (once)."""
        self._marker = marker

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        # Connections end on their own once their clients hang up; cancel only stragglers.
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def url(self, database_url: str) -> str:
        """``database_url`` pointed at this proxy, with plain-text framing from the start."""
        parts = urlsplit(database_url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        query = "&".join(filter(None, [parts.query, "sslmode=disable&gssencmode=disable"]))
        return urlunsplit(parts._replace(netloc=netloc, query=query))

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        server_r, server_w = await asyncio.open_connection(*self._upstream)
        armed = asyncio.Event()
        upstream = asyncio.create_task(self._to_server(client_r, server_w, armed))
        try:
            await self._to_client(server_r, client_w, armed)
        finally:
            upstream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upstream
            for writer in (client_w, server_w):
                writer.close()
                with contextlib.suppress(OSError, ConnectionError):
                    await writer.wait_closed()
            self._tasks.discard(task)

    async def _to_server(
        self, client: asyncio.StreamReader, server: asyncio.StreamWriter, armed: asyncio.Event
    ) -> None:
        while chunk := await client.read(65536):
            if self._marker is not None and self._marker in chunk:
                self._marker = None
                armed.set()
            server.write(chunk)
            await server.drain()
        server.close()

    async def _to_client(
        self, server: asyncio.StreamReader, client: asyncio.StreamWriter, armed: asyncio.Event
    ) -> None:
        while True:
            try:
                header = await server.readexactly(5)
                body = await server.readexactly(struct.unpack("!I", header[1:])[0] - 4)
            except asyncio.IncompleteReadError:
                return
            if not armed.is_set():
                client.write(header + body)
                await client.drain()
            elif header[:1] == _READY_FOR_QUERY:
                # The statement ran and committed; its acknowledgement is lost with the line.
                self.dropped += 1
                return


@contextlib.asynccontextmanager
async def ack_dropping_proxy(database_url: str) -> AsyncIterator[AckDroppingProxy]:
    """A started proxy in front of the server of ``database_url``; closed afterwards."""
    parts = urlsplit(database_url)
    proxy = AckDroppingProxy(
        upstream_host=parts.hostname or "127.0.0.1", upstream_port=parts.port or 5432
    )
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
