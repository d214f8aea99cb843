"""The composition root: builds connectors, the inventory and the tool context from settings.

Contract: the only package that knows every concrete class; everything below it receives what
it needs already built. Nothing imports this package except the entry points (``cli``).

A connector exists only when its settings are present; half a configuration (a host without
its token) is a start-up :class:`~mission_control.errors.ConfigError` naming the variable.
:data:`~mission_control.connectors.MISSING_SETTINGS` says what to set to enable each one.
"""

from __future__ import annotations

from pathlib import Path

from mission_control.connectors import Connectors
from mission_control.connectors.argocd import ArgoCDConnector
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.connectors.prometheus import PrometheusConnector
from mission_control.connectors.proxmox import ProxmoxConnector
from mission_control.errors import ConfigError
from mission_control.inventory import Inventory
from mission_control.settings import Settings
from mission_control.tools.base import ToolContext

__all__ = ["IN_CLUSTER_TOKEN", "build_connectors", "build_inventory", "build_tool_context"]

#: Present when the process runs in a pod with a service account token mounted.
IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def _require_pair(first: tuple[str, object], second: tuple[str, object]) -> bool:
    """True when both are set, False when neither; a ConfigError for half a pair."""
    (first_name, first_value), (second_name, second_value) = first, second
    if (first_value is None) != (second_value is None):
        missing = first_name if first_value is None else second_name
        present = second_name if first_value is None else first_name
        raise ConfigError(f"{missing}: required when {present} is set (check the environment)")
    return first_value is not None


def build_connectors(settings: Settings, *, in_cluster: bool | None = None) -> Connectors:
    """Connectors for every configured system.

    ``in_cluster`` overrides the detection of a mounted service account token.
    """
    kubernetes: KubernetesConnector | None = None
    proxmox: ProxmoxConnector | None = None
    argocd: ArgoCDConnector | None = None
    prometheus: PrometheusConnector | None = None
    if in_cluster is None:
        in_cluster = IN_CLUSTER_TOKEN.exists()
    if settings.kubernetes.kubeconfig is not None or in_cluster:
        kubernetes = KubernetesConnector.from_settings(settings.kubernetes)
    pve = settings.proxmox
    if _require_pair(("PROXMOX_HOST", pve.host), ("PROXMOX_API_TOKEN", pve.api_token)):
        proxmox = ProxmoxConnector.from_settings(pve)
    argo = settings.argocd
    if _require_pair(("ARGOCD_URL", argo.url), ("ARGOCD_TOKEN", argo.token)):
        argocd = ArgoCDConnector.from_settings(argo)
    if settings.prometheus.url is not None:
        prometheus = PrometheusConnector.from_settings(settings.prometheus)
    return Connectors(kubernetes=kubernetes, proxmox=proxmox, argocd=argocd, prometheus=prometheus)


def build_inventory(settings: Settings, connectors: Connectors) -> Inventory | None:
    """The merged inventory over ``connectors``; None when none of them is an inventory source."""
    return Inventory.from_connectors(
        connectors,
        metadata_file=settings.operator.inventory_metadata_file,
        refresh_seconds=settings.operator.inventory_refresh_seconds,
    )


def build_tool_context(settings: Settings, *, in_cluster: bool | None = None) -> ToolContext:
    """What tool calls use: the configured connectors and the inventory over them.

    The caller owns the connectors: ``await context.connectors.aclose()`` when done.
    """
    connectors = build_connectors(settings, in_cluster=in_cluster)
    return ToolContext(connectors=connectors, inventory=build_inventory(settings, connectors))
