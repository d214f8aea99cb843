"""Serving the sidecar for a test: a real uvicorn server on a free port, in the test's loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
import uvicorn

from mission_control.connectors import Connectors
from mission_control.settings import SidecarSettings
from mission_control.sidecar import SidecarServices, build_services, create_app
from mission_control.store import Store

TOKEN = "sidecar-test-token-0123456789"


def as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rpartition('@')[2]}"))


@dataclass(frozen=True)
class Sidecar:
    """A running sidecar: its base URL, its services and a client that sends the token."""

    url: str
    services: SidecarServices
    client: httpx.AsyncClient

    def anonymous(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30.0)


@asynccontextmanager
async def serve(services: SidecarServices) -> AsyncIterator[str]:
    """Serve ``services`` on 127.0.0.1 (a free port) until the block ends; yields the URL."""
    config = uvicorn.Config(
        create_app(services),
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    # The test owns the process's signals.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("the sidecar did not start")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        await _stop_stream_shutdown_watcher()


async def _stop_stream_shutdown_watcher() -> None:
    """sse-starlette keeps one task per event loop watching for a server shutdown; the test's
    loop ends with the test, so the watcher is stopped with the server it watched."""
    for task in asyncio.all_tasks():
        if getattr(task.get_coro(), "__name__", "") == "_shutdown_watcher":
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


@asynccontextmanager
async def running_sidecar(
    store: Store,
    *,
    connectors: Connectors | None = None,
    settings: SidecarSettings | None = None,
) -> AsyncIterator[Sidecar]:
    """The sidecar over ``store`` with the test token, served, with a client."""
    settings = settings or SidecarSettings.model_validate({"api_auth_token": TOKEN})
    services = build_services(settings, store=store, connectors=connectors or Connectors())
    async with serve(services) as url:
        await services.hub.wait_listening(10.0)
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30.0
        ) as client:
            yield Sidecar(url=url, services=services, client=client)
