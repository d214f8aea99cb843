"""Clients of the systems the tools act on: Kubernetes, Proxmox VE, Argo CD, Prometheus.

Only connectors talk to those systems. Each translates its library's exceptions once into
:mod:`mission_control.connectors.errors`, has timeouts, and offers ``check()`` for the
health endpoint. Credentials never appear in errors or logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mission_control.connectors.argocd import ArgoCDConnector
    from mission_control.connectors.kubernetes import KubernetesConnector
    from mission_control.connectors.prometheus import PrometheusConnector
    from mission_control.connectors.proxmox import ProxmoxConnector
    from mission_control.inventory import Inventory

__all__ = ["Connectors"]


@dataclass(frozen=True, kw_only=True)
class Connectors:
    """The configured connectors; ``None`` where the setting is missing."""

    kubernetes: KubernetesConnector | None = None
    proxmox: ProxmoxConnector | None = None
    argocd: ArgoCDConnector | None = None
    prometheus: PrometheusConnector | None = None
    #: The merged inventory over the connectors above; None when no source is configured.
    inventory: Inventory | None = None
