"""``GET /ui/``: the read-only web view, static files shipped in the package.

The files hold no data, so they are served without a token; the page asks for the token once,
keeps it in ``sessionStorage`` and sends it as a bearer header to ``/api/v1``, never in a URL.
Every answer under ``/ui`` (errors too) carries a strict Content-Security-Policy: scripts,
styles and requests from this origin only, no inline code, no frames, no forms, so text from a
model or a tool that reaches the page can never run there.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request
from starlette.datastructures import MutableHeaders
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "UI_FILES", "UI_HEADERS", "UiHeaders", "router", "ui_file"]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

#: Headers of every answer under /ui. ``no-cache`` revalidates with the ETag each time, so a
#: new release of the sidecar is picked up at once and an unchanged file costs a 304.
UI_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}

#: The files of the view and their media types; nothing else is served (no path from the URL
#: ever reaches the file system).
UI_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "markdown.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "timeline.js": "text/javascript; charset=utf-8",
    "views.js": "text/javascript; charset=utf-8",
    "usage.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

router = APIRouter(include_in_schema=False)


@cache
def ui_file(name: str) -> bytes:
    """A file of the view as shipped in the package (read once per process)."""
    return resources.files("mission_control.sidecar").joinpath("ui", name).read_bytes()


@cache
def _etag(name: str) -> str:
    return '"' + hashlib.sha256(ui_file(name)).hexdigest()[:32] + '"'


def _answer(request: Request, name: str) -> Response:
    etag = _etag(name)
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(ui_file(name), media_type=UI_FILES[name], headers={"ETag": etag})


@router.get("/ui")
async def ui_root() -> Response:
    # Relative URLs in the page resolve against /ui/, so the bare path is sent there.
    return RedirectResponse("ui/", status_code=308)


@router.get("/ui/")
async def ui_index(request: Request) -> Response:
    return _answer(request, "index.html")


@router.get("/ui/{name}")
async def ui_asset(request: Request, name: str) -> Response:
    if name not in UI_FILES:
        return Response("not found", status_code=404, media_type="text/plain")
    return _answer(request, name)


class UiHeaders:
    """Adds :data:`UI_HEADERS` to every answer under ``/ui``, whichever code produced it (a
    route, a 404 for an unknown path, an error handler)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != "/ui" and not path.startswith("/ui/"):
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in UI_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self._app(scope, receive, with_headers)
