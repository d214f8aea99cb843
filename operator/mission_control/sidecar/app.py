"""The ASGI application: routes, JSON errors, the OpenAPI document, metrics, the stream hub.

FastAPI generates the OpenAPI document (``/api/v1/openapi.json``) from the response models;
validation errors are answered as 400 (not FastAPI's 422), so the document lists 400.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mission_control import __version__
from mission_control.sidecar import routes, stream, webui
from mission_control.sidecar.errors import install_error_handlers
from mission_control.sidecar.metrics import SidecarMetrics
from mission_control.sidecar.services import SidecarServices

__all__ = ["INSECURE_WARNING_SECONDS", "create_app"]

logger = logging.getLogger(__name__)

#: How often running without authentication is repeated in the log.
INSECURE_WARNING_SECONDS = 60.0


def create_app(services: SidecarServices) -> FastAPI:
    """The sidecar's application; its lifespan runs the stream hub's listener."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        background = [asyncio.create_task(services.hub.run(), name="journal listener")]
        if services.insecure:
            background.append(asyncio.create_task(_warn_insecure(), name="insecure warning"))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="Mission Control",
        version=__version__,
        description="Read-only API over task runs, their journal, inventory, tasks and usage.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.include_router(routes.router)
    app.include_router(stream.router)
    app.include_router(webui.router)
    install_error_handlers(app)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _without_422(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(webui.UiHeaders)
    app.add_middleware(_RequestMetrics, metrics=services.metrics)
    return app


def _without_422(document: dict[str, Any]) -> dict[str, Any]:
    # Invalid requests are answered 400 with the error body (see errors.py).
    for path in document.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return document


async def _warn_insecure() -> None:
    while True:
        logger.warning(
            "the API is served WITHOUT authentication (--insecure-no-auth): anyone who can "
            "reach it reads every run's transcript"
        )
        await asyncio.sleep(INSECURE_WARNING_SECONDS)


class _RequestMetrics:
    """Counts each answer by route template and status (ASGI middleware: streams untouched)."""

    def __init__(self, app: ASGIApp, *, metrics: SidecarMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.monotonic()

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                self._metrics.requests.labels(
                    route=template, method=scope["method"], status=str(message["status"])
                ).inc()
                self._metrics.request_seconds.labels(route=template).observe(
                    time.monotonic() - started
                )
            await send(message)

        await self._app(scope, receive, counting_send)
