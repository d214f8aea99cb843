"""Building the sidecar from settings and serving it with uvicorn."""

from __future__ import annotations

import secrets

import uvicorn

from mission_control.connectors import Connectors
from mission_control.connectors.kubernetes.custom import MissionControlObjects
from mission_control.connectors.kubernetes.reviews import AccessReviews
from mission_control.errors import ConfigError
from mission_control.settings import SidecarSettings
from mission_control.sidecar.app import create_app
from mission_control.sidecar.auth import Authenticator
from mission_control.sidecar.fanout import EventHub
from mission_control.sidecar.health import HealthCheck, ProviderCheck
from mission_control.sidecar.metrics import SidecarMetrics
from mission_control.sidecar.services import SidecarServices
from mission_control.store import Store

__all__ = ["build_services", "check_sidecar_settings", "serve_sidecar"]


def check_sidecar_settings(settings: SidecarSettings, *, insecure: bool, kubernetes: bool) -> None:
    """Refuse to start without a token (unless ``insecure``), or with half a configuration."""
    token = settings.api_auth_token
    if not insecure and (token is None or not token.get_secret_value()):
        raise ConfigError(
            "API_AUTH_TOKEN: is not set; the API needs a bearer token "
            "(or start with --insecure-no-auth, which serves every transcript to anyone)"
        )
    if settings.auth == "kubernetes" and not kubernetes:
        raise ConfigError(
            "MC_SIDECAR_AUTH: 'kubernetes' needs the Kubernetes API (KUBECONFIG or in-cluster)"
        )
    if (settings.tls_cert is None) != (settings.tls_key is None):
        missing = "MC_SIDECAR_TLS_KEY" if settings.tls_key is None else "MC_SIDECAR_TLS_CERT"
        raise ConfigError(f"{missing}: required when the other half of the TLS pair is set")


def build_services(
    settings: SidecarSettings,
    *,
    store: Store,
    connectors: Connectors,
    providers: ProviderCheck | None = None,
    insecure: bool = False,
) -> SidecarServices:
    """Everything the routes need; a missing token or half a TLS pair is a ConfigError."""
    kubernetes = connectors.kubernetes
    check_sidecar_settings(settings, insecure=insecure, kubernetes=kubernetes is not None)
    token = None if settings.api_auth_token is None else settings.api_auth_token.get_secret_value()
    reviews = None if kubernetes is None else AccessReviews(kubernetes)
    metrics = SidecarMetrics()
    authenticator = Authenticator(
        # Insecure mode answers every request anyway; the authenticator still needs a secret.
        token=token or secrets.token_urlsafe(32),
        reviews=reviews if settings.auth == "kubernetes" else None,
        cache_seconds=settings.auth_cache_seconds,
    )
    return SidecarServices(
        store=store,
        hub=EventHub(
            store=store,
            client_buffer=settings.client_buffer,
            on_dropped=metrics.sse_dropped.inc,
        ),
        authenticator=authenticator,
        health=HealthCheck(store=store, connectors=connectors, providers=providers),
        metrics=metrics,
        objects=None if kubernetes is None else MissionControlObjects(kubernetes),
        reviews=reviews,
        heartbeat_seconds=settings.heartbeat_seconds,
        insecure=insecure and not token,
    )


async def serve_sidecar(settings: SidecarSettings, services: SidecarServices) -> None:
    """Serve until the process is told to stop (SIGINT, SIGTERM)."""
    config = uvicorn.Config(
        create_app(services),
        host=settings.host,
        port=settings.port,
        ssl_certfile=None if settings.tls_cert is None else str(settings.tls_cert),
        ssl_keyfile=None if settings.tls_key is None else str(settings.tls_key),
        log_config=None,
        access_log=False,
        lifespan="on",
        proxy_headers=False,
    )
    await uvicorn.Server(config).serve()
