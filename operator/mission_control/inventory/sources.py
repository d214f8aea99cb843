"""Inventory sources: each turns one connector's answers into observations.

A source only reads; the collector decides what to keep when one fails. Each source is
small glue over its connector's typed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mission_control.connectors.argocd import ArgoCDConnector
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.connectors.prometheus import PrometheusConnector
from mission_control.connectors.proxmox import ProxmoxConnector
from mission_control.inventory.model import Enrichment, Observation, SourceName

__all__ = [
    "ArgoCDSource",
    "Collected",
    "InventorySource",
    "KubernetesSource",
    "PrometheusSource",
    "ProxmoxSource",
]


@dataclass(frozen=True, kw_only=True)
class Collected:
    """What one successful collection of a source returned."""

    observations: tuple[Observation, ...] = ()
    enrichments: tuple[Enrichment, ...] = ()


class InventorySource(Protocol):
    """Anything that can collect observations; raises a connector error when it cannot."""

    @property
    def name(self) -> SourceName: ...

    async def collect(self) -> Collected: ...


@dataclass(frozen=True)
class KubernetesSource:
    """Nodes (hosts) and deployments, statefulsets, daemonsets (workloads)."""

    connector: KubernetesConnector
    name: SourceName = "kubernetes"

    async def collect(self) -> Collected:
        nodes = await self.connector.list_nodes()
        workloads = await self.connector.list_workloads()
        observations = [
            Observation(
                id=f"k8s:node:{node.name}",
                kind="host",
                type="node",
                name=node.name,
                source="kubernetes",
                labels=node.labels,
                live={
                    "status": "Ready" if node.ready else "NotReady",
                    "ip": node.internal_ip,
                    "kubeletVersion": node.kubelet_version,
                    "cpu": node.cpu,
                    "memory": node.memory,
                },
                addresses=(node.internal_ip,) if node.internal_ip else (),
            )
            for node in nodes
        ]
        observations += [
            Observation(
                id=f"k8s:{w.kind.lower()}:{w.namespace}:{w.name}",
                kind="workload",
                type=w.kind.lower(),
                name=w.name,
                source="kubernetes",
                namespace=w.namespace,
                labels=w.labels,
                live={
                    "status": _workload_status(desired=w.desired, ready=w.ready),
                    "desired": w.desired,
                    "ready": w.ready,
                    "images": ",".join(w.images),
                },
            )
            for w in workloads
        ]
        return Collected(observations=tuple(observations))


def _workload_status(*, desired: int, ready: int) -> str:
    if desired == 0:
        return "ScaledDown"
    return "Ready" if ready >= desired else "Degraded"


@dataclass(frozen=True)
class ProxmoxSource:
    """Proxmox nodes (hosts), QEMU VMs and LXC containers (workloads)."""

    connector: ProxmoxConnector
    name: SourceName = "proxmox"

    async def collect(self) -> Collected:
        nodes = await self.connector.list_nodes()
        guests = await self.connector.list_guests()
        observations = [
            Observation(
                id=f"proxmox:node:{node.name}",
                kind="host",
                type="node",
                name=node.name,
                source="proxmox",
                live={
                    "status": node.status,
                    "cpu": round(node.cpu, 4),
                    "maxCpu": node.max_cpu,
                    "memoryBytes": node.memory_bytes,
                    "maxMemoryBytes": node.max_memory_bytes,
                    "uptimeSeconds": node.uptime_seconds,
                },
            )
            for node in nodes
        ]
        observations += [
            Observation(
                id=f"proxmox:{'vm' if g.kind == 'qemu' else 'lxc'}:{g.node}:{g.vmid}",
                kind="workload",
                type="vm" if g.kind == "qemu" else "lxc",
                name=g.name or str(g.vmid),
                source="proxmox",
                labels={f"proxmox.tag/{tag}": "true" for tag in g.tags},
                live={
                    "status": g.status,
                    "node": g.node,
                    "vmid": g.vmid,
                    "cpu": round(g.cpu, 4),
                    "maxCpu": g.max_cpu,
                    "memoryBytes": g.memory_bytes,
                    "maxMemoryBytes": g.max_memory_bytes,
                    "uptimeSeconds": g.uptime_seconds,
                    "template": g.template,
                },
                addresses=(g.name,) if g.name else (),
            )
            for g in guests
        ]
        return Collected(observations=tuple(observations))


@dataclass(frozen=True)
class ArgoCDSource:
    """Argo CD applications, as services."""

    connector: ArgoCDConnector
    name: SourceName = "argocd"

    async def collect(self) -> Collected:
        apps = await self.connector.list_applications()
        return Collected(
            observations=tuple(
                Observation(
                    id=f"argocd:app:{app.name}",
                    kind="service",
                    type="application",
                    name=app.name,
                    source="argocd",
                    namespace=app.destination_namespace or None,
                    labels=app.labels,
                    live={
                        "status": app.health_status,
                        "sync": app.sync_status,
                        "health": app.health_status,
                        "revision": app.sync_revision,
                        "project": app.project,
                        "repo": app.repo_url,
                    },
                )
                for app in apps
            )
        )


@dataclass(frozen=True)
class PrometheusSource:
    """Scrape health (``up``) per target host, added to the items known under that address."""

    connector: PrometheusConnector
    name: SourceName = "prometheus"

    async def collect(self) -> Collected:
        result = await self.connector.query("up")
        totals: dict[str, list[int]] = {}
        for series in result.series:
            address = _host_of(series.labels.get("instance", ""))
            if not address or not series.samples:
                continue
            counts = totals.setdefault(address, [0, 0])
            counts[0] += 1
            counts[1] += 1 if series.samples[-1].value == 1 else 0
        return Collected(
            enrichments=tuple(
                Enrichment(address=address, live={"scrapeTargets": total, "scrapeTargetsUp": up})
                for address, (total, up) in sorted(totals.items())
            )
        )


def _host_of(instance: str) -> str:
    """``10.0.0.5:9100`` -> ``10.0.0.5``; ``[fd00::1]:9100`` -> ``fd00::1``."""
    if instance.startswith("["):
        return instance[1:].partition("]")[0]
    host, sep, port = instance.rpartition(":")
    return host if sep and port.isdigit() and ":" not in host else instance


def sources_of(
    *,
    kubernetes: KubernetesConnector | None,
    proxmox: ProxmoxConnector | None,
    argocd: ArgoCDConnector | None,
    prometheus: PrometheusConnector | None,
) -> Sequence[InventorySource]:
    """The sources for the configured connectors, in a fixed order."""
    found: list[InventorySource] = []
    if kubernetes is not None:
        found.append(KubernetesSource(kubernetes))
    if proxmox is not None:
        found.append(ProxmoxSource(proxmox))
    if argocd is not None:
        found.append(ArgoCDSource(argocd))
    if prometheus is not None:
        found.append(PrometheusSource(prometheus))
    return found
