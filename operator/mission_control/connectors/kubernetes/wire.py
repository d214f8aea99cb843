"""The Kubernetes API's JSON, read once: only the fields we use, into typed values.

The private ``_Wire`` models describe just the parts of each object the project reads
(unknown fields are ignored, absent ones take the API's defaults); the ``parse_*`` functions
turn raw response bodies into the values of :mod:`~mission_control.connectors.kubernetes.objects`.
Pure: no I/O.

Over 400 lines on purpose: each wire model sits next to the function that reads it, so a field
the project starts to read is added in one place; split by resource if it grows further.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from mission_control.connectors.errors import ConnectorNotFound
from mission_control.connectors.kubernetes.errors import Operation
from mission_control.connectors.kubernetes.objects import (
    RESTARTED_AT_ANNOTATION,
    ContainerState,
    K8sContainer,
    K8sDeployment,
    K8sEvent,
    K8sNode,
    K8sPod,
    K8sScale,
    K8sWorkload,
    WorkloadKind,
)

__all__ = [
    "continue_token",
    "parse_deployment",
    "parse_deployments",
    "parse_events",
    "parse_nodes",
    "parse_pod",
    "parse_pods",
    "parse_scale",
    "parse_secret_key",
    "parse_workloads",
]


# -- the wire: only the fields we read -------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, frozen=True)


class _OwnerReference(_Wire):
    kind: str
    name: str
    controller: bool = False


class _Metadata(_Wire):
    name: str = ""
    namespace: str = ""
    uid: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    owner_references: list[_OwnerReference] = Field(default_factory=list)


class _ListMetadata(_Wire):
    continue_: str = Field(default="", alias="continue")


class _Container(_Wire):
    name: str
    image: str = ""


class _PodSpec(_Wire):
    containers: list[_Container] = Field(default_factory=list)
    init_containers: list[_Container] = Field(default_factory=list)
    node_name: str = ""


class _PodTemplate(_Wire):
    metadata: _Metadata = Field(default_factory=_Metadata)
    spec: _PodSpec = Field(default_factory=_PodSpec)


class _StateDetail(_Wire):
    reason: str = ""
    message: str = ""
    exit_code: int | None = None


class _State(_Wire):
    waiting: _StateDetail | None = None
    running: _StateDetail | None = None
    terminated: _StateDetail | None = None


class _ContainerStatus(_Wire):
    name: str
    image: str = ""
    ready: bool = False
    restart_count: int = 0
    state: _State = Field(default_factory=_State)
    last_state: _State = Field(default_factory=_State)


class _PodStatus(_Wire):
    phase: str = ""
    reason: str = ""
    message: str = ""
    container_statuses: list[_ContainerStatus] = Field(default_factory=list)
    init_container_statuses: list[_ContainerStatus] = Field(default_factory=list)


class _Pod(_Wire):
    metadata: _Metadata
    spec: _PodSpec = Field(default_factory=_PodSpec)
    status: _PodStatus = Field(default_factory=_PodStatus)


class _WorkloadSpec(_Wire):
    replicas: int = 1  # the API's default when the field is omitted
    paused: bool = False
    template: _PodTemplate = Field(default_factory=_PodTemplate)


class _WorkloadStatus(_Wire):
    ready_replicas: int = 0
    updated_replicas: int = 0
    available_replicas: int = 0
    # DaemonSets count nodes instead of replicas.
    desired_number_scheduled: int = 0
    number_ready: int = 0


class _Workload(_Wire):
    metadata: _Metadata
    spec: _WorkloadSpec = Field(default_factory=_WorkloadSpec)
    status: _WorkloadStatus = Field(default_factory=_WorkloadStatus)


class _ScaleSpec(_Wire):
    replicas: int = 0


class _ScaleStatus(_Wire):
    replicas: int = 0


class _Scale(_Wire):
    metadata: _Metadata
    spec: _ScaleSpec = Field(default_factory=_ScaleSpec)
    status: _ScaleStatus = Field(default_factory=_ScaleStatus)


class _Address(_Wire):
    type: str
    address: str


class _Condition(_Wire):
    type: str
    status: str


class _NodeInfo(_Wire):
    kubelet_version: str = ""


class _NodeStatus(_Wire):
    addresses: list[_Address] = Field(default_factory=list)
    conditions: list[_Condition] = Field(default_factory=list)
    node_info: _NodeInfo = Field(default_factory=_NodeInfo)
    capacity: dict[str, str] = Field(default_factory=dict)
    allocatable: dict[str, str] = Field(default_factory=dict)


class _Node(_Wire):
    metadata: _Metadata
    status: _NodeStatus = Field(default_factory=_NodeStatus)


class _ObjectReference(_Wire):
    kind: str = ""
    name: str = ""


class _EventSeries(_Wire):
    count: int = 0
    last_observed_time: datetime | None = None


class _EventSource(_Wire):
    component: str = ""


class _Event(_Wire):
    metadata: _Metadata
    involved_object: _ObjectReference = Field(default_factory=_ObjectReference)
    reason: str = ""
    message: str = ""
    type: str = ""
    count: int | None = None
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    event_time: datetime | None = None
    series: _EventSeries | None = None
    source: _EventSource = Field(default_factory=_EventSource)
    reporting_component: str = ""


class _ListPage(_Wire):
    metadata: _ListMetadata = Field(default_factory=_ListMetadata)


ItemT = TypeVar("ItemT", bound=_Wire)


class _List(_Wire, Generic[ItemT]):
    metadata: _ListMetadata = Field(default_factory=_ListMetadata)
    items: list[ItemT] | None = None


# -- parsing ---------------------------------------------------------------------------------


def continue_token(data: bytes) -> str:
    """The ``metadata.continue`` token of a list page ("" on the last page).

    A page that does not parse ends the list here; parsing its items then reports it.
    """
    try:
        return _ListPage.model_validate_json(data).metadata.continue_
    except ValueError:
        return ""


def _items(model: type[ItemT], pages: list[bytes]) -> list[ItemT]:
    items: list[ItemT] = []
    for page in pages:
        items.extend(_List[model].model_validate_json(page).items or ())  # type: ignore[valid-type]
    return items


def _images(template: _PodTemplate) -> tuple[str, ...]:
    return tuple(container.image for container in template.spec.containers)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None  # written by hand with a typo: treat as never restarted


def _deployment(raw: _Workload) -> K8sDeployment:
    return K8sDeployment(
        namespace=raw.metadata.namespace,
        name=raw.metadata.name,
        desired=raw.spec.replicas,
        ready=raw.status.ready_replicas,
        updated=raw.status.updated_replicas,
        available=raw.status.available_replicas,
        images=_images(raw.spec.template),
        paused=raw.spec.paused,
        restarted_at=_parse_time(
            raw.spec.template.metadata.annotations.get(RESTARTED_AT_ANNOTATION)
        ),
        created=raw.metadata.creation_timestamp,
        labels=dict(raw.metadata.labels),
    )


def parse_deployment(data: bytes) -> K8sDeployment:
    return _deployment(_Workload.model_validate_json(data))


def parse_deployments(pages: list[bytes]) -> list[K8sDeployment]:
    return [_deployment(raw) for raw in _items(_Workload, pages)]


def parse_scale(data: bytes) -> K8sScale:
    raw = _Scale.model_validate_json(data)
    return K8sScale(
        namespace=raw.metadata.namespace,
        name=raw.metadata.name,
        desired=raw.spec.replicas,
        current=raw.status.replicas,
    )


def parse_workloads(kind: WorkloadKind, pages: list[bytes]) -> list[K8sWorkload]:
    workloads = []
    for raw in _items(_Workload, pages):
        if kind == "DaemonSet":
            desired, ready = raw.status.desired_number_scheduled, raw.status.number_ready
        else:
            desired, ready = raw.spec.replicas, raw.status.ready_replicas
        workloads.append(
            K8sWorkload(
                kind=kind,
                namespace=raw.metadata.namespace,
                name=raw.metadata.name,
                desired=desired,
                ready=ready,
                images=_images(raw.spec.template),
                labels=dict(raw.metadata.labels),
            )
        )
    return workloads


def _container(status: _ContainerStatus, *, init: bool) -> K8sContainer:
    states: list[tuple[ContainerState, _StateDetail | None]] = [
        ("waiting", status.state.waiting),
        ("running", status.state.running),
        ("terminated", status.state.terminated),
    ]
    state, detail = next(
        ((name, current) for name, current in states if current is not None),
        ("unknown", _StateDetail()),
    )
    last = status.last_state.terminated or _StateDetail()
    return K8sContainer(
        name=status.name,
        image=status.image,
        init=init,
        ready=status.ready,
        restarts=status.restart_count,
        state=state,
        reason=detail.reason,
        message=detail.message,
        exit_code=detail.exit_code,
        last_reason=last.reason,
        last_exit_code=last.exit_code,
    )


def _pod(raw: _Pod) -> K8sPod:
    init = [_container(s, init=True) for s in raw.status.init_container_statuses]
    main = [_container(s, init=False) for s in raw.status.container_statuses]
    owner = next((ref for ref in raw.metadata.owner_references if ref.controller), None)
    return K8sPod(
        namespace=raw.metadata.namespace,
        name=raw.metadata.name,
        uid=raw.metadata.uid,
        phase=raw.status.phase,
        reason=raw.status.reason,
        message=raw.status.message,
        node=raw.spec.node_name,
        ready=sum(1 for c in main if c.ready),
        total=len(raw.spec.containers),
        restarts=sum(c.restarts for c in main),
        containers=(*init, *main),
        owner=f"{owner.kind}/{owner.name}" if owner is not None else None,
        created=raw.metadata.creation_timestamp,
        deleting=raw.metadata.deletion_timestamp is not None,
        labels=dict(raw.metadata.labels),
    )


def parse_pod(data: bytes) -> K8sPod:
    return _pod(_Pod.model_validate_json(data))


def parse_secret_key(data: bytes, *, key: str, op: Operation) -> str:
    """The UTF-8 text under ``key`` of a Secret. Errors never quote the Secret's content
    (a validation error would echo the value it rejected)."""
    try:
        values = json.loads(data).get("data") or {}
    except (ValueError, AttributeError):
        raise ValueError("the answer is not a Secret") from None
    if key not in values:
        raise ConnectorNotFound(f"{op.object()} has no key {key!r}")
    try:
        return base64.b64decode(str(values[key]), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(f"key {key!r} is not base64-encoded UTF-8 text") from None


def parse_pods(pages: list[bytes]) -> list[K8sPod]:
    return [_pod(raw) for raw in _items(_Pod, pages)]


def _node(raw: _Node) -> K8sNode:
    internal_ip = next((a.address for a in raw.status.addresses if a.type == "InternalIP"), None)
    ready = any(c.type == "Ready" and c.status == "True" for c in raw.status.conditions)
    resources = raw.status.capacity or raw.status.allocatable
    return K8sNode(
        name=raw.metadata.name,
        internal_ip=internal_ip,
        ready=ready,
        kubelet_version=raw.status.node_info.kubelet_version,
        labels=dict(raw.metadata.labels),
        cpu=resources.get("cpu", ""),
        memory=resources.get("memory", ""),
    )


def parse_nodes(pages: list[bytes]) -> list[K8sNode]:
    return [_node(raw) for raw in _items(_Node, pages)]


def _event(raw: _Event) -> K8sEvent:
    # Events written through events.k8s.io carry eventTime and series; core/v1 writers use
    # lastTimestamp and count. Take whichever the writer filled in.
    series = raw.series
    last_seen = (
        (series.last_observed_time if series is not None else None)
        or raw.last_timestamp
        or raw.event_time
        or raw.first_timestamp
        or raw.metadata.creation_timestamp
    )
    count = series.count if series is not None and series.count else (raw.count or 1)
    return K8sEvent(
        namespace=raw.metadata.namespace,
        type=raw.type,
        reason=raw.reason,
        message=raw.message.strip(),
        object_kind=raw.involved_object.kind,
        object_name=raw.involved_object.name,
        count=count,
        last_seen=last_seen,
        source=raw.source.component or raw.reporting_component,
    )


def parse_events(pages: list[bytes]) -> list[K8sEvent]:
    return [_event(raw) for raw in _items(_Event, pages)]
