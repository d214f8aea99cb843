"""The values of the inventory: what sources observe and the merged snapshot.

Purely data: frozen dataclasses, no I/O. Ids are stable across refreshes and sources
(``k8s:node:NAME``, ``k8s:deployment:NS:NAME``, ``proxmox:node:NAME``,
``proxmox:vm:NODE:VMID``, ``proxmox:lxc:NODE:VMID``, ``argocd:app:NAME``, ``service:NAME``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Enrichment",
    "InventoryItem",
    "InventorySnapshot",
    "ItemKind",
    "Link",
    "LiveValue",
    "Observation",
    "SourceName",
    "SourceState",
    "SourceStatus",
]

ItemKind = Literal["host", "workload", "service"]
SourceName = Literal["kubernetes", "proxmox", "argocd", "prometheus", "metadata"]
LiveValue = str | int | float | bool | None


@dataclass(frozen=True, kw_only=True)
class Link:
    """A named URL from the metadata file (dashboard, runbook, repository...)."""

    title: str
    url: str


@dataclass(frozen=True, kw_only=True)
class Observation:
    """One thing a source saw during one collection, before metadata is merged in."""

    id: str
    kind: ItemKind
    type: str  # node, deployment, statefulset, daemonset, vm, lxc, application
    name: str
    source: SourceName
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    live: Mapping[str, LiveValue] = field(default_factory=dict)
    #: Addresses (host names, IPs) under which monitoring may know this item.
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Enrichment:
    """Live fields a source adds to items it does not own (Prometheus ``up`` per address)."""

    address: str
    live: Mapping[str, LiveValue]


@dataclass(frozen=True, kw_only=True)
class SourceState:
    """The last good collection of one source, and how the latest attempt went."""

    source: SourceName
    observations: tuple[Observation, ...] = ()
    enrichments: tuple[Enrichment, ...] = ()
    last_success: dt.datetime | None = None
    last_attempt: dt.datetime | None = None
    error: str | None = None  # of the latest attempt; None when it succeeded

    @property
    def stale(self) -> bool:
        return self.error is not None


@dataclass(frozen=True, kw_only=True)
class InventoryItem:
    """A host, workload or service with its live fields and merged static metadata."""

    id: str
    kind: ItemKind
    type: str
    name: str
    source: SourceName
    namespace: str | None
    labels: Mapping[str, str]
    live: Mapping[str, LiveValue]
    owner: str | None
    description: str | None
    tags: tuple[str, ...]
    links: tuple[Link, ...]
    #: For hosts and workloads: ids of the services they belong to.
    services: tuple[str, ...]
    #: For services: ids of their member hosts and workloads.
    members: tuple[str, ...]
    last_seen: dt.datetime | None
    stale: bool

    def to_json(self) -> dict[str, Any]:
        """The API and store form (camelCase, ISO 8601 times)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "type": self.type,
            "name": self.name,
            "source": self.source,
            "namespace": self.namespace,
            "labels": dict(self.labels),
            "live": dict(self.live),
            "owner": self.owner,
            "description": self.description,
            "tags": list(self.tags),
            "links": [{"title": link.title, "url": link.url} for link in self.links],
            "services": list(self.services),
            "members": list(self.members),
            "lastSeen": self.last_seen.isoformat() if self.last_seen else None,
            "stale": self.stale,
        }


@dataclass(frozen=True, kw_only=True)
class SourceStatus:
    """How one source fared, for the snapshot's readers (health, metrics, the model)."""

    source: SourceName
    last_success: dt.datetime | None
    last_attempt: dt.datetime | None
    stale: bool
    error: str | None


@dataclass(frozen=True, kw_only=True)
class InventorySnapshot:
    """The merged inventory at one moment; what the store writes and the tool reads."""

    generated_at: dt.datetime
    hosts: tuple[InventoryItem, ...]
    workloads: tuple[InventoryItem, ...]
    services: tuple[InventoryItem, ...]
    sources: tuple[SourceStatus, ...]

    @property
    def items(self) -> tuple[InventoryItem, ...]:
        return self.hosts + self.workloads + self.services

    def get(self, item_id: str) -> InventoryItem | None:
        return next((item for item in self.items if item.id == item_id), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "generatedAt": self.generated_at.isoformat(),
            "hosts": [item.to_json() for item in self.hosts],
            "workloads": [item.to_json() for item in self.workloads],
            "services": [item.to_json() for item in self.services],
            "sources": [
                {
                    "source": s.source,
                    "lastSuccess": s.last_success.isoformat() if s.last_success else None,
                    "lastAttempt": s.last_attempt.isoformat() if s.last_attempt else None,
                    "stale": s.stale,
                    "error": s.error,
                }
                for s in self.sources
            ],
        }
