"""What the routes work with, built once per process and kept on the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mission_control.connectors.kubernetes.custom import MissionControlObjects
from mission_control.connectors.kubernetes.reviews import AccessReviews
from mission_control.sidecar.auth import Authenticator, AuthFailed, Caller
from mission_control.sidecar.errors import ApiError
from mission_control.sidecar.fanout import EventHub
from mission_control.sidecar.health import HealthCheck
from mission_control.sidecar.metrics import SidecarMetrics
from mission_control.store import Store
from mission_control.store.reads import SidecarReads

__all__ = ["CallerDep", "ServicesDep", "SidecarServices", "refuse_nul"]


@dataclass(frozen=True, kw_only=True)
class SidecarServices:
    """The store, the stream hub, auth, health and (when configured) Kubernetes reads."""

    store: Store
    hub: EventHub
    authenticator: Authenticator
    health: HealthCheck
    metrics: SidecarMetrics
    #: Tasks come from the Kubernetes API; None when it is not configured.
    objects: MissionControlObjects | None = None
    reviews: AccessReviews | None = None
    heartbeat_seconds: float = 15.0
    #: A stream write that takes longer than this ends the stream (the client stopped reading).
    send_timeout_seconds: float = 30.0
    #: Milliseconds a client should wait before reconnecting (SSE ``retry:``).
    retry_ms: int = 2000
    insecure: bool = False
    reads: SidecarReads = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reads", SidecarReads(self.store.db))


def _services(request: Request) -> SidecarServices:
    services: SidecarServices = request.app.state.services
    return services


ServicesDep = Annotated[SidecarServices, Depends(_services)]

_bearer = HTTPBearer(
    auto_error=False,
    description="API_AUTH_TOKEN, or with MC_SIDECAR_AUTH=kubernetes a token the Kubernetes "
    "API server accepts (a ServiceAccount token, an OIDC token).",
)


async def _caller(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if services.insecure:
        return Caller(name="anonymous (--insecure-no-auth)")
    if credentials is None:
        raise AuthFailed("missing bearer token: send Authorization: Bearer <token>")
    return await services.authenticator.authenticate(f"Bearer {credentials.credentials}")


CallerDep = Annotated[Caller, Depends(_caller)]


def refuse_nul(request: Request) -> None:
    """A 400 for a NUL character in a path or query parameter (PostgreSQL cannot hold one)."""
    for where, values in (("path", request.path_params), ("query", request.query_params)):
        for name, value in values.items():
            if isinstance(value, str) and "\x00" in value:
                raise ApiError(400, f"{where} parameter {name!r}: must not contain NUL")
