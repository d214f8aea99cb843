"""Merge what the sources observed with the static metadata into one snapshot.

Purely computational, no I/O: :func:`merge` takes the per-source states (the last good data
of each, with its error if the latest attempt failed) and the metadata, and returns an
:class:`~mission_control.inventory.model.InventorySnapshot`.

Rules:

- Items keep their source's ``last_success`` as ``last_seen``; items of a source whose latest
  attempt failed are kept from its last good collection and marked ``stale``.
- Enrichments (Prometheus ``up`` per address) add live fields to the hosts and workloads
  known under that address (name or IP).
- Services are Argo CD applications (members: workloads carrying Argo CD's tracking label
  ``app.kubernetes.io/instance`` with the application's name) and the metadata file's
  services (members by id glob or by label selector).
- Metadata (owner, description, tags, links) is attached by id.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

from mission_control.inventory.metadata import InventoryMetadata, ItemMetadata, ServiceSpec
from mission_control.inventory.model import (
    InventoryItem,
    InventorySnapshot,
    Link,
    LiveValue,
    Observation,
    SourceState,
    SourceStatus,
)

__all__ = ["ARGOCD_INSTANCE_LABEL", "merge"]

#: The label Argo CD's default (label) tracking method puts on what an application deploys.
ARGOCD_INSTANCE_LABEL = "app.kubernetes.io/instance"


def merge(
    *, states: Sequence[SourceState], metadata: InventoryMetadata, now: dt.datetime
) -> InventorySnapshot:
    """One snapshot from every source's state and the metadata file."""
    observed: dict[str, tuple[Observation, SourceState]] = {}
    for state in states:
        for observation in state.observations:
            observed.setdefault(observation.id, (observation, state))
    enrichment = _enrichment_by_address(states)

    members = _service_members(observed=observed, metadata=metadata)
    service_of: dict[str, list[str]] = defaultdict(list)
    for service_id, member_ids in members.items():
        for member_id in member_ids:
            service_of[member_id].append(service_id)

    items: list[InventoryItem] = []
    for item_id, (observation, state) in observed.items():
        live = dict(observation.live)
        if observation.kind != "service":
            for address in (observation.name, *observation.addresses):
                live.update(enrichment.get(address, {}))
        else:
            live["members"] = len(members.get(item_id, ()))
        items.append(
            _item(
                observation=observation,
                live=live,
                meta=metadata.items.get(item_id),
                services=sorted(service_of.get(item_id, ())),
                members=sorted(members.get(item_id, ())),
                last_seen=state.last_success,
                stale=state.stale,
            )
        )
    for name, spec in metadata.services.items():
        service_id = f"service:{name}"
        if service_id in observed:
            continue
        listed = sorted(members.get(service_id, ()))
        stale_members = sum(1 for m in listed if observed[m][1].stale)
        items.append(
            _item(
                observation=Observation(
                    id=service_id, kind="service", type="service", name=name, source="metadata"
                ),
                live={"members": len(listed), "staleMembers": stale_members},
                meta=_combine(spec, metadata.items.get(service_id)),
                services=[],
                members=listed,
                last_seen=now,
                stale=False,
            )
        )

    def of_kind(kind: str) -> tuple[InventoryItem, ...]:
        return tuple(sorted((i for i in items if i.kind == kind), key=lambda i: i.id))

    return InventorySnapshot(
        generated_at=now,
        hosts=of_kind("host"),
        workloads=of_kind("workload"),
        services=of_kind("service"),
        sources=tuple(
            SourceStatus(
                source=s.source,
                last_success=s.last_success,
                last_attempt=s.last_attempt,
                stale=s.stale,
                error=s.error,
            )
            for s in states
        ),
    )


def _enrichment_by_address(states: Iterable[SourceState]) -> dict[str, dict[str, LiveValue]]:
    by_address: dict[str, dict[str, LiveValue]] = defaultdict(dict)
    for state in states:
        for enrichment in state.enrichments:
            by_address[enrichment.address].update(enrichment.live)
    return by_address


def _service_members(
    *, observed: Mapping[str, tuple[Observation, SourceState]], metadata: InventoryMetadata
) -> dict[str, set[str]]:
    members: dict[str, set[str]] = defaultdict(set)
    candidates = [obs for obs, _ in observed.values() if obs.kind != "service"]
    apps = {obs.name: obs.id for obs, _ in observed.values() if obs.type == "application"}
    for candidate in candidates:
        app_id = apps.get(candidate.labels.get(ARGOCD_INSTANCE_LABEL, ""))
        if app_id is not None:
            members[app_id].add(candidate.id)
    for name, spec in metadata.services.items():
        service_id = f"service:{name}"
        for candidate in candidates:
            if _is_member(candidate, spec):
                members[service_id].add(candidate.id)
    return members


def _is_member(candidate: Observation, spec: ServiceSpec) -> bool:
    if any(fnmatchcase(candidate.id, pattern) for pattern in spec.members):
        return True
    return bool(spec.selector) and all(
        candidate.labels.get(key) == value for key, value in spec.selector.items()
    )


def _combine(spec: ServiceSpec, extra: ItemMetadata | None) -> ItemMetadata:
    """A service's own fields, completed (never overridden) by an ``items`` entry for it."""
    if extra is None:
        return spec
    return ItemMetadata(
        owner=spec.owner or extra.owner,
        description=spec.description or extra.description,
        tags=tuple(dict.fromkeys(spec.tags + extra.tags)),
        links=spec.links + extra.links,
    )


def _item(
    *,
    observation: Observation,
    live: Mapping[str, LiveValue],
    meta: ItemMetadata | None,
    services: Sequence[str],
    members: Sequence[str],
    last_seen: dt.datetime | None,
    stale: bool,
) -> InventoryItem:
    meta = meta or ItemMetadata()
    return InventoryItem(
        id=observation.id,
        kind=observation.kind,
        type=observation.type,
        name=observation.name,
        source=observation.source,
        namespace=observation.namespace,
        labels=dict(observation.labels),
        live=dict(live),
        owner=meta.owner,
        description=meta.description,
        tags=tuple(meta.tags),
        links=tuple(Link(title=link.title, url=link.url) for link in meta.links),
        services=tuple(services),
        members=tuple(members),
        last_seen=last_seen,
        stale=stale,
    )
