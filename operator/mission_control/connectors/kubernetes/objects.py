"""Kubernetes API objects as small typed values: the fields that matter for operations.

Built once at the edge by :mod:`~mission_control.connectors.kubernetes.wire` from the API
server's JSON; nothing past the connector sees the API's nested dictionaries. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = [
    "RESTARTED_AT_ANNOTATION",
    "ContainerState",
    "K8sContainer",
    "K8sDeployment",
    "K8sEvent",
    "K8sNode",
    "K8sPod",
    "K8sScale",
    "K8sWorkload",
    "WorkloadKind",
]

#: The pod template annotation ``kubectl rollout restart`` sets; changing it rolls the pods.
RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"

WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet"]
ContainerState = Literal["waiting", "running", "terminated", "unknown"]


# -- public values ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class K8sNode:
    """A node for the inventory: identity, readiness and capacity."""

    name: str
    internal_ip: str | None
    ready: bool
    kubelet_version: str
    labels: dict[str, str]
    cpu: str
    memory: str


@dataclass(frozen=True, kw_only=True)
class K8sWorkload:
    """A Deployment, StatefulSet or DaemonSet for the inventory."""

    kind: WorkloadKind
    namespace: str
    name: str
    desired: int
    ready: int
    images: tuple[str, ...]
    labels: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class K8sDeployment:
    """A Deployment's rollout state, as ``kubectl get deployments`` shows it."""

    namespace: str
    name: str
    desired: int
    ready: int
    updated: int
    available: int
    images: tuple[str, ...]
    paused: bool
    #: When the pods were last rolled by a rollout restart (the template annotation), if ever.
    restarted_at: datetime | None
    created: datetime | None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class K8sScale:
    """The scale subresource: desired and current replicas."""

    namespace: str
    name: str
    desired: int
    current: int


@dataclass(frozen=True, kw_only=True)
class K8sContainer:
    """One container's status in a pod: state, why it waits or ended, restarts."""

    name: str
    image: str
    init: bool
    ready: bool
    restarts: int
    state: ContainerState
    reason: str
    message: str
    exit_code: int | None
    #: Why the previous instance ended (after a restart), e.g. ``Error`` or ``OOMKilled``.
    last_reason: str
    last_exit_code: int | None


@dataclass(frozen=True, kw_only=True)
class K8sPod:
    """A pod's health at a glance."""

    namespace: str
    name: str
    uid: str
    phase: str
    reason: str
    message: str
    node: str
    ready: int
    total: int
    restarts: int
    containers: tuple[K8sContainer, ...]
    #: ``Kind/name`` of the controller that owns the pod, or None for a bare pod.
    owner: str | None
    created: datetime | None
    deleting: bool
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """The one word kubectl shows: a container's waiting/terminated reason, else the phase."""
        if self.deleting:
            return "Terminating"
        for container in self.containers:
            stuck = container.state in ("waiting", "terminated") and container.reason != "Completed"
            if container.init and stuck and container.reason:
                return f"Init:{container.reason}"
        for container in self.containers:
            if not container.init and container.state != "running" and container.reason:
                return container.reason
        return self.reason or self.phase or "Unknown"


@dataclass(frozen=True, kw_only=True)
class K8sEvent:
    """One event about an object, newest occurrence first when listed."""

    namespace: str
    type: str
    reason: str
    message: str
    object_kind: str
    object_name: str
    count: int
    last_seen: datetime | None
    source: str
