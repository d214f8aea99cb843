"""The Alertmanager webhook receiver: ``POST /alertmanager/v4/{namespace}/{trigger}``.

Served by the operator process on ``MC_WEBHOOK_PORT`` (``aiohttp``, which kopf already brings).
Each request names one TaskTrigger; it must carry ``Authorization: Bearer TOKEN`` with the token
in the Secret the trigger names (compared in constant time), read as the trigger's agent
ServiceAccount: a Secret that account may not read is answered like a wrong token (401). The
body is bounded (:data:`MAX_BODY_BYTES`, else 413) and must be Alertmanager's webhook payload,
version 4 (else 400 with the reason). A trigger of another shard (its labels do not match the
operator's ``--selector``) is answered as an unknown one (404): shards do not reveal each
other. The answer says what each alert did (started, deduplicated, skipped, ignored, refused).
The token and the alerts' values are never logged.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from mission_control.connectors.errors import ConnectorForbidden
from mission_control.errors import MissionControlError
from mission_control.resources.schemas.patterns import DNS_LABEL, DNS_SUBDOMAIN
from mission_control.resources.tasktrigger import TaskTriggerSpec
from mission_control.runs.alerts import InvalidPayload, parse_payload
from mission_control.triggers.service import TriggerService

__all__ = ["MAX_BODY_BYTES", "Serves", "build_app", "serve_webhook"]

log = logging.getLogger(__name__)

#: Largest body accepted: Alertmanager groups rarely exceed a few KiB per alert.
MAX_BODY_BYTES = 1024 * 1024
ROUTE = "/alertmanager/v4/{namespace}/{trigger}"
_NAMESPACE = re.compile(DNS_LABEL)
_NAME = re.compile(DNS_SUBDOMAIN)
#: Whether this operator serves a trigger with these metadata labels (its shard's selector).
Serves = Callable[[Mapping[str, str]], bool]
_SERVICE: web.AppKey[TriggerService] = web.AppKey("triggers", TriggerService)
_SERVES: web.AppKey[Serves] = web.AppKey("serves")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _bearer(request: web.Request) -> bytes | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip().encode()


async def _receive(request: web.Request) -> web.Response:
    service = request.app[_SERVICE]
    namespace, name = request.match_info["namespace"], request.match_info["trigger"]
    if not _NAMESPACE.fullmatch(namespace) or not _NAME.fullmatch(name):
        return _error(404, "no such TaskTrigger: the path is /alertmanager/v4/NAMESPACE/NAME")
    try:
        raw = await service.objects.get("tasktriggers", namespace=namespace, name=name)
    except MissionControlError as exc:
        log.warning("tasktrigger %s/%s not read for an alert: %s", namespace, name, exc)
        return _error(503, "the Kubernetes API server is not reachable; try again")
    if raw is None or not request.app[_SERVES]((raw.get("metadata") or {}).get("labels") or {}):
        return _error(404, f"no TaskTrigger {namespace}/{name}")
    try:
        spec = TaskTriggerSpec.model_validate(raw.get("spec") or {})
    except ValidationError:
        return _error(404, f"TaskTrigger {namespace}/{name} is not valid")
    if spec.alert is None:
        return _error(404, f"TaskTrigger {namespace}/{name} has no spec.alert")
    given = _bearer(request)
    try:
        expected = await service.tokens.read(namespace, spec)
    except ConnectorForbidden:
        # Answered as a wrong token: the caller learns nothing of the Secret or its access
        # (the trigger's Ready condition tells its owner which Role to grant).
        log.warning(
            "token of tasktrigger %s/%s may not be read as ServiceAccount %s",
            namespace,
            name,
            service.tokens.reader(spec),
        )
        expected = b""
    except MissionControlError as exc:
        log.warning("token of tasktrigger %s/%s not read: %s", namespace, name, exc)
        return _error(503, "the trigger's token could not be read; try again")
    # compare_digest on both branches: no early answer tells a missing token from a wrong one.
    if not hmac.compare_digest(expected or b"\0", given or b"") or not expected:
        return _error(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        payload = parse_payload(body)
    except InvalidPayload as exc:
        return _error(400, str(exc))
    try:
        reception = await service.receive(raw, payload)
    except MissionControlError as exc:
        log.warning("alerts for tasktrigger %s/%s not handled: %s", namespace, name, exc)
        return _error(503, "the runs could not be started; Alertmanager will send again")
    log.info(
        "tasktrigger %s/%s: %d alerts: %d started, %d deduplicated, %d skipped, %d refused",
        namespace,
        name,
        len(payload.alerts),
        len(reception.started),
        reception.deduplicated,
        reception.skipped,
        len(reception.refused),
    )
    return web.json_response(reception.as_json())


async def _healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def _serves_all(_: Mapping[str, str]) -> bool:
    return True


def build_app(service: TriggerService, *, serves: Serves = _serves_all) -> web.Application:
    """The receiver's application, answering for the triggers ``serves`` accepts."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[_SERVICE] = service
    app[_SERVES] = serves
    app.router.add_post(ROUTE, _receive)
    app.router.add_get("/healthz", _healthz)
    return app


@asynccontextmanager
async def serve_webhook(
    service: TriggerService, *, host: str, port: int, serves: Serves = _serves_all
) -> AsyncIterator[Any]:
    """Serve the receiver on ``host:port`` meanwhile."""
    runner = web.AppRunner(build_app(service, serves=serves), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host=host, port=port)
    try:
        await site.start()
        log.info("the Alertmanager receiver listens on %s:%d", host, port)
        yield runner
    finally:
        await runner.cleanup()
