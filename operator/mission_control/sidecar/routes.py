"""The read-only endpoints under ``/api/v1`` (the event stream is in :mod:`.stream`)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from mission_control.connectors.kubernetes.custom import MissionControlObjects
from mission_control.connectors.kubernetes.reviews import AccessReviews
from mission_control.sidecar.errors import ApiError
from mission_control.sidecar.models import (
    ErrorBody,
    EventOut,
    EventPage,
    Health,
    InventoryItem,
    InventoryOut,
    NamespaceUsageOut,
    NamespaceUsageRow,
    RunOut,
    RunPage,
    TaskOut,
    TaskPage,
    UsageOut,
    UsageRow,
)
from mission_control.sidecar.services import CallerDep, ServicesDep, refuse_nul
from mission_control.store import InventoryKind, InventoryRecord, RunRecord
from mission_control.store.reads import RunCursor

__all__ = ["ERROR_RESPONSES", "find_run", "router"]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A parameter is invalid (the message names it)."},
    401: {"model": ErrorBody, "description": "No valid bearer token."},
    403: {"model": ErrorBody, "description": "The caller may not read this namespace."},
    404: {"model": ErrorBody, "description": "No such run, task or inventory item."},
    502: {"model": ErrorBody, "description": "The Kubernetes API server failed."},
    503: {"model": ErrorBody, "description": "The database or Kubernetes is unavailable."},
}

#: Kubernetes names: a namespace is a DNS label, an object name a DNS subdomain.
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
Namespace = Annotated[str, Path(pattern=NAMESPACE_PATTERN, max_length=63)]
Name = Annotated[str, Path(pattern=NAME_PATTERN, max_length=253)]
NamespaceFilter = Annotated[str | None, Query(pattern=NAMESPACE_PATTERN, max_length=63)]
NameFilter = Annotated[str | None, Query(pattern=NAME_PATTERN, max_length=253)]

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, dependencies=[Depends(refuse_nul)])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database or Kubernetes is down."}},
)
async def health(services: ServicesDep) -> Any:
    """Every dependency's state (503 when unhealthy); no token needed."""
    found = await services.health.check()
    return JSONResponse(found.model_dump(mode="json"), status_code=_HEALTH_STATUS[found.status])


_HEALTH_STATUS = {"healthy": 200, "degraded": 200, "unhealthy": 503}


# -- runs -----------------------------------------------------------------------------------


def _encode_cursor(run: RunRecord) -> str:
    raw = f"{run.created_at.isoformat()}|{run.uid}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> RunCursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, uid = raw.partition("|")
        created_at = dt.datetime.fromisoformat(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, "query parameter 'cursor': not a cursor this API returned") from None
    if not uid or created_at.tzinfo is None:
        raise ApiError(400, "query parameter 'cursor': not a cursor this API returned")
    return RunCursor(created_at=created_at, uid=uid)


@router.get("/task-runs", response_model=RunPage)
async def list_runs(
    services: ServicesDep,
    caller: CallerDep,
    namespace: NamespaceFilter = None,
    task: NameFilter = None,
    reason: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Any:
    """Runs, newest first; filters combine; ``next_cursor`` pages on."""
    before = None if cursor is None else _decode_cursor(cursor)
    visible = None
    if not caller.sees_everything:
        candidates = [namespace] if namespace else await services.reads.run_namespaces()
        visible = await caller.visible(candidates)
    runs = await services.reads.run_page(
        namespace=namespace,
        namespaces=visible,
        task=task,
        reason=reason,
        before=before,
        limit=limit,
    )
    next_cursor = _encode_cursor(runs[-1]) if len(runs) == limit else None
    return RunPage(items=[RunOut.from_record(run) for run in runs], next_cursor=next_cursor)


async def find_run(
    services: ServicesDep, caller: CallerDep, *, namespace: str, name: str
) -> RunRecord:
    """The newest run of that name, if the caller may read its namespace (403, 404)."""
    if not await caller.may_read(namespace):
        raise ApiError(403, f"{caller.name} may not get taskruns in namespace {namespace}")
    run = await services.store.runs.find(namespace=namespace, name=name)
    if run is None:
        raise ApiError(404, f"no task run {namespace}/{name}")
    return run


@router.get("/task-runs/{namespace}/{name}", response_model=RunOut)
async def get_run(
    services: ServicesDep, caller: CallerDep, namespace: Namespace, name: Name
) -> Any:
    """One run: status, reason, steps, tokens, cost, and its resolved spec."""
    run = await find_run(services, caller, namespace=namespace, name=name)
    return RunOut.from_record(run, with_spec=True)


@router.get("/task-runs/{namespace}/{name}/events", response_model=EventPage)
async def run_events(
    services: ServicesDep,
    caller: CallerDep,
    namespace: Namespace,
    name: Name,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Any:
    """The run's journal after seq ``after``, oldest first, a page at a time."""
    run = await find_run(services, caller, namespace=namespace, name=name)
    events = await services.reads.event_page(run.uid, after=after, limit=limit)
    next_after = events[-1].seq if len(events) == limit else None
    return EventPage(items=[EventOut.from_record(e) for e in events], next_after=next_after)


# -- usage ----------------------------------------------------------------------------------


@router.get("/usage/tokens", response_model=UsageOut)
async def usage(
    services: ServicesDep,
    caller: CallerDep,
    since: Annotated[dt.datetime | None, Query(alias="from")] = None,
    until: Annotated[dt.datetime | None, Query(alias="to")] = None,
    namespace: NamespaceFilter = None,
    task: NameFilter = None,
) -> Any:
    """Tokens and cost per UTC day, provider and model, for requests in ``[from, to)``."""
    since, until = _period(since, until)
    visible = None
    if not caller.sees_everything:
        candidates = [namespace] if namespace else await services.reads.run_namespaces()
        visible = await caller.visible(candidates)
    totals = await services.reads.usage(
        since=since, until=until, namespace=namespace, namespaces=visible, task=task
    )
    return UsageOut.of([UsageRow.from_total(total) for total in totals])


@router.get("/usage/namespaces", response_model=NamespaceUsageOut)
async def usage_by_namespace(
    services: ServicesDep,
    caller: CallerDep,
    since: Annotated[dt.datetime | None, Query(alias="from")] = None,
    until: Annotated[dt.datetime | None, Query(alias="to")] = None,
) -> Any:
    """Tokens and cost per namespace, for requests in ``[from, to)``."""
    since, until = _period(since, until)
    visible = None
    if not caller.sees_everything:
        visible = await caller.visible(await services.reads.run_namespaces())
    totals = await services.reads.usage_by_namespace(since=since, until=until, namespaces=visible)
    return NamespaceUsageOut.of([NamespaceUsageRow.from_total(total) for total in totals])


def _period(
    since: dt.datetime | None, until: dt.datetime | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    since, until = _aware(since), _aware(until)
    if since is not None and until is not None and until < since:
        raise ApiError(400, "query parameter 'to': must not be before 'from'")
    return since, until


def _aware(stamp: dt.datetime | None) -> dt.datetime | None:
    # A time without a zone is taken as UTC, like the days it is grouped by.
    if stamp is not None and stamp.tzinfo is None:
        return stamp.replace(tzinfo=dt.UTC)
    return stamp


# -- inventory ------------------------------------------------------------------------------

_KINDS: tuple[InventoryKind, ...] = get_args(InventoryKind)


async def _items(
    services: ServicesDep, caller: CallerDep, kind: InventoryKind
) -> list[InventoryItem]:
    records = await services.store.inventory.items(kind)
    return [InventoryItem.from_record(r) for r in await _readable(caller, records)]


async def _readable(caller: CallerDep, records: list[InventoryRecord]) -> list[InventoryRecord]:
    # Items of a namespace are shown to whoever may read that namespace's runs; hosts and
    # cluster-wide items to every caller.
    if caller.sees_everything:
        return records
    visible = await caller.visible(sorted({r.namespace for r in records if r.namespace}))
    return [r for r in records if not r.namespace or r.namespace in (visible or set())]


async def _item(
    services: ServicesDep, caller: CallerDep, *, kind: InventoryKind, item_id: str
) -> InventoryItem:
    record = await services.store.inventory.item(kind, item_id)
    if record is None or not await _readable(caller, [record]):
        raise ApiError(404, f"no {kind[:-1]} with id {item_id!r}")
    return InventoryItem.from_record(record)


@router.get("/inventory", response_model=InventoryOut)
async def inventory(services: ServicesDep, caller: CallerDep) -> Any:
    """Hosts, workloads and services (removed items are left out)."""
    hosts, workloads, services_ = [await _items(services, caller, kind) for kind in _KINDS]
    return InventoryOut(hosts=hosts, workloads=workloads, services=services_)


@router.get("/inventory/hosts", response_model=list[InventoryItem])
async def hosts(services: ServicesDep, caller: CallerDep) -> Any:
    """Hosts: Kubernetes nodes, Proxmox nodes and guests."""
    return await _items(services, caller, "hosts")


@router.get("/inventory/hosts/{item_id}", response_model=InventoryItem)
async def host(services: ServicesDep, caller: CallerDep, item_id: str) -> Any:
    """One host by id (``k8s:node:NAME``, ...), removed or not."""
    return await _item(services, caller, kind="hosts", item_id=item_id)


@router.get("/inventory/workloads", response_model=list[InventoryItem])
async def workloads(services: ServicesDep, caller: CallerDep) -> Any:
    """Workloads: Deployments, StatefulSets, DaemonSets, Argo CD applications."""
    return await _items(services, caller, "workloads")


@router.get("/inventory/workloads/{item_id}", response_model=InventoryItem)
async def workload(services: ServicesDep, caller: CallerDep, item_id: str) -> Any:
    """One workload by id, removed or not."""
    return await _item(services, caller, kind="workloads", item_id=item_id)


@router.get("/inventory/services", response_model=list[InventoryItem])
async def inventory_services(services: ServicesDep, caller: CallerDep) -> Any:
    """Services known to the inventory."""
    return await _items(services, caller, "services")


# -- tasks ----------------------------------------------------------------------------------


def _objects(services: ServicesDep) -> tuple[MissionControlObjects, AccessReviews]:
    if services.objects is None or services.reviews is None:
        raise ApiError(503, "Kubernetes is not configured: tasks are read from its API")
    return services.objects, services.reviews


@router.get("/tasks", response_model=TaskPage)
async def tasks(
    services: ServicesDep,
    caller: CallerDep,
    namespace: NamespaceFilter = None,
) -> Any:
    """Tasks from the Kubernetes API with their Ready condition, by namespace and name."""
    objects, reviews = _objects(services)
    if namespace is not None:
        if not await caller.may_read(namespace):
            return TaskPage(items=[])
        found = await objects.list_namespaced("tasks", namespace=namespace)
    else:
        found = await reviews.list_everywhere("tasks")
    items = [TaskOut.from_object(obj) for obj in found]
    if not caller.sees_everything:
        visible = await caller.visible(sorted({t.namespace for t in items})) or set()
        items = [t for t in items if t.namespace in visible]
    items.sort(key=lambda t: (t.namespace, t.name))
    return TaskPage(items=items)


@router.get("/tasks/{namespace}/{name}", response_model=TaskOut)
async def task(services: ServicesDep, caller: CallerDep, namespace: Namespace, name: Name) -> Any:
    """One Task from the Kubernetes API."""
    objects, _ = _objects(services)
    if not await caller.may_read(namespace):
        raise ApiError(403, f"{caller.name} may not get taskruns in namespace {namespace}")
    found = await objects.get("tasks", namespace=namespace, name=name)
    if found is None:
        raise ApiError(404, f"no task {namespace}/{name}")
    return TaskOut.from_object(found)
