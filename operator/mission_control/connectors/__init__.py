"""Clients of the systems the tools act on: Kubernetes, Proxmox VE, Argo CD, Prometheus.

Only connectors talk to those systems. Each translates its library's exceptions once into
:mod:`mission_control.connectors.errors`, has timeouts, and offers ``check()`` for the
health endpoint. Credentials never appear in errors or logs. :mod:`.notify` sends
notifications through Apprise (the only module that imports it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mission_control.connectors.argocd import ArgoCDConnector
    from mission_control.connectors.kubernetes import KubernetesConnector
    from mission_control.connectors.prometheus import PrometheusConnector
    from mission_control.connectors.proxmox import ProxmoxConnector

__all__ = ["MISSING_SETTINGS", "ConnectorName", "Connectors"]

ConnectorName = Literal["kubernetes", "proxmox", "argocd", "prometheus"]

#: What to set to enable each connector, for "tool unavailable" messages.
MISSING_SETTINGS: Mapping[ConnectorName, str] = {
    "kubernetes": "set KUBECONFIG or run in a pod with a service account",
    "proxmox": "set PROXMOX_HOST and PROXMOX_API_TOKEN",
    "argocd": "set ARGOCD_URL and ARGOCD_TOKEN",
    "prometheus": "set PROMETHEUS_URL",
}


@dataclass(frozen=True, kw_only=True)
class Connectors:
    """The configured connectors; ``None`` where the setting is missing."""

    kubernetes: KubernetesConnector | None = None
    proxmox: ProxmoxConnector | None = None
    argocd: ArgoCDConnector | None = None
    prometheus: PrometheusConnector | None = None

    async def aclose(self) -> None:
        """Close every configured connector; each is closed even when another fails."""
        present = [c for c in (self.kubernetes, self.proxmox, self.argocd, self.prometheus) if c]
        results = await asyncio.gather(*(c.aclose() for c in present), return_exceptions=True)
        errors = [result for result in results if isinstance(result, BaseException)]
        if errors:
            raise errors[0]
