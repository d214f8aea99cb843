"""``/api/v1/health``: every dependency checked at once, each within a bound.

``unhealthy`` (503) only when the database or a configured Kubernetes cannot be reached (the
sidecar cannot do its job); ``degraded`` when something else that is configured cannot; an
unconfigured connector is reported as such (``false``, ``configured: false``), never as a
failure.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from mission_control import __version__
from mission_control.connectors import Connectors
from mission_control.errors import MissionControlError, first_line
from mission_control.settings import Provider
from mission_control.sidecar.models import ConnectorHealth, Health
from mission_control.store import Store

__all__ = ["CHECK_SECONDS", "HealthCheck", "ProviderCheck"]


class ProviderState(Protocol):
    """What a provider's health check reports (``llm.provider.ProviderHealth``); described
    here so that the sidecar does not load the provider libraries to serve its API."""

    @property
    def configured(self) -> bool: ...
    @property
    def reachable(self) -> bool: ...
    @property
    def message(self) -> str: ...


#: What the LLM providers report (the process that builds them passes their ``check``).
ProviderCheck = Callable[[], Awaitable[Mapping[Provider, ProviderState]]]

#: Longest one dependency's check may take.
CHECK_SECONDS = 5.0
_ESSENTIAL = ("database", "kubernetes")
_PROVIDERS = {
    "ollama": "OLLAMA_BASE_URL",
    "gemini": "GEMINI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
}
_MISSING = {
    "kubernetes": "KUBECONFIG (or run in a pod)",
    "proxmox": "PROXMOX_HOST and PROXMOX_API_TOKEN",
    "prometheus": "PROMETHEUS_URL",
    "argocd": "ARGOCD_URL and ARGOCD_TOKEN",
}


@dataclass(frozen=True, kw_only=True)
class HealthCheck:
    """The dependencies to check."""

    store: Store
    connectors: Connectors
    providers: ProviderCheck | None = None

    async def check(self) -> Health:
        checks: dict[str, Callable[[], Awaitable[ConnectorHealth]]] = {
            "database": self._database,
            "kubernetes": lambda: _connector("kubernetes", self.connectors.kubernetes),
            "proxmox": lambda: _connector("proxmox", self.connectors.proxmox),
            "prometheus": lambda: _connector("prometheus", self.connectors.prometheus),
            "argocd": lambda: _connector("argocd", self.connectors.argocd),
        }
        names = list(checks)
        results = await asyncio.gather(*(_bounded(checks[name]) for name in names))
        details = dict(zip(names, results, strict=True))
        details |= await self._providers()
        if any(details[n].configured and not details[n].reachable for n in _ESSENTIAL):
            status = "unhealthy"
        elif any(item.configured and not item.reachable for item in details.values()):
            status = "degraded"
        else:
            status = "healthy"
        return Health(
            status=status,
            timestamp=dt.datetime.now(dt.UTC),
            version=__version__,
            connectors={name: item.configured and item.reachable for name, item in details.items()},
            details=details,
        )

    async def _database(self) -> ConnectorHealth:
        await self.store.db.fetch_value(query="SELECT 1", action="check the database")
        return ConnectorHealth(configured=True, reachable=True)

    async def _providers(self) -> dict[str, ConnectorHealth]:
        if self.providers is None:
            return {
                name: ConnectorHealth(
                    configured=False,
                    reachable=False,
                    message=f"not configured: set {variable}",
                )
                for name, variable in _PROVIDERS.items()
            }
        try:
            async with asyncio.timeout(CHECK_SECONDS):
                found = await self.providers()
        except TimeoutError:
            return {
                name: ConnectorHealth(
                    configured=True, reachable=False, message=f"no answer in {CHECK_SECONDS} s"
                )
                for name in _PROVIDERS
            }
        return {
            str(name): ConnectorHealth(
                configured=item.configured, reachable=item.reachable, message=item.message
            )
            for name, item in found.items()
        }


class _Checkable(Protocol):
    async def check(self) -> None: ...


async def _connector(name: str, connector: _Checkable | None) -> ConnectorHealth:
    if connector is None:
        return ConnectorHealth(
            configured=False, reachable=False, message=f"not configured: set {_MISSING[name]}"
        )
    await connector.check()
    return ConnectorHealth(configured=True, reachable=True)


async def _bounded(check: Callable[[], Awaitable[ConnectorHealth]]) -> ConnectorHealth:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            return await check()
    except TimeoutError:
        return ConnectorHealth(
            configured=True, reachable=False, message=f"no answer within {CHECK_SECONDS} s"
        )
    except MissionControlError as exc:
        return ConnectorHealth(configured=True, reachable=False, message=first_line(exc))
