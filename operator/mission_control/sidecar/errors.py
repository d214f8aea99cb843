"""Every error the API answers is JSON ``{"error", "message"}`` with the right status.

One place maps the exceptions that reach the edge: bad parameters are 400 naming the
parameter, a missing or refused token 401, a namespace the caller may not read 403, unknown
ids and paths 404, other methods than GET 405, the database away 503 (with ``Retry-After``),
Kubernetes failing 502.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mission_control.connectors.errors import ConnectorError
from mission_control.errors import first_line
from mission_control.sidecar.auth import AuthFailed
from mission_control.store import JournalUnavailable, StoreError

__all__ = ["ApiError", "install_error_handlers"]

logger = logging.getLogger(__name__)

_KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    500: "internal",
    502: "bad_gateway",
    503: "unavailable",
}


class ApiError(Exception):
    """An answer other than success, raised by a route."""

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, message: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": _KINDS.get(status, "error"), "message": message},
        status_code=status,
        headers=dict(headers or {}),
    )


def _parameter(loc: tuple[int | str, ...]) -> str:
    where = str(loc[0]) if loc else "request"
    name = ".".join(str(part) for part in loc[1:]) or where
    kinds = {"query": "query parameter", "path": "path parameter", "header": "header"}
    return f"{kinds.get(where, where)} {name!r}"


def install_error_handlers(app: FastAPI) -> None:
    """Register the JSON error answers on ``app``."""

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message, headers=exc.headers)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = {
            404: "no such endpoint",
            405: "method not allowed: this API is read-only (GET only)",
        }.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, message, headers=exc.headers)

    async def bad_request(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        message = f"{_parameter(tuple(first.get('loc', ())))}: {first.get('msg', 'invalid')}"
        return error_response(400, message)

    async def unauthorized(_: Request, exc: Exception) -> JSONResponse:
        return error_response(401, str(exc), headers={"WWW-Authenticate": "Bearer"})

    async def store_error(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, JournalUnavailable):
            return error_response(
                503, f"the database is unavailable: {first_line(exc)}", headers={"Retry-After": "1"}
            )
        logger.error("store error answering a request: %s", first_line(exc))
        return error_response(500, "the database answered with an error; see the sidecar's log")

    async def connector_error(_: Request, exc: Exception) -> JSONResponse:
        return error_response(502, first_line(exc))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(AuthFailed, unauthorized)
    app.add_exception_handler(StoreError, store_error)
    app.add_exception_handler(ConnectorError, connector_error)
