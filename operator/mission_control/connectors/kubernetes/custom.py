"""The operator's own objects: Tasks, TaskRuns, ToolPolicies and ClusterToolPolicies, and Events.

What the handlers need from the Kubernetes API beyond the tools' calls: read the custom
objects a run resolves (as plain JSON objects; the handlers parse them into the resource
models, which this layer may not import), read a namespace's labels and whether a
ServiceAccount exists, patch the ``status`` subresource with a JSON merge patch, and post
Events. Every call is made with the operator's own identity, through the connector's request
path (worker threads, timeouts, error translation in one place).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from kubernetes import client as k8s

from mission_control.connectors.errors import ConnectorNotFound, ConnectorRequestError
from mission_control.connectors.kubernetes.client import KubernetesConnector
from mission_control.connectors.kubernetes.errors import Operation

__all__ = [
    "API_VERSION",
    "EVENT_COMPONENT",
    "GROUP",
    "VERSION",
    "MissionControlObjects",
    "ObjectRef",
    "Plural",
]

GROUP = "missioncontrol.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
#: ``source.component`` and ``reportingComponent`` of the Events we post.
EVENT_COMPONENT = "mission-control"
#: Longest Event message we send (the API server's limit is 1 KiB for ``note`` in events/v1).
EVENT_MESSAGE_MAX = 1024

Plural = Literal["tasks", "taskruns", "toolpolicies", "clustertoolpolicies", "tasktriggers"]
_KINDS: Mapping[Plural, str] = {
    "tasks": "Task",
    "taskruns": "TaskRun",
    "tasktriggers": "TaskTrigger",
    "toolpolicies": "ToolPolicy",
    "clustertoolpolicies": "ClusterToolPolicy",
}
_MERGE = "application/merge-patch+json"


@dataclass(frozen=True, kw_only=True)
class ObjectRef:
    """The object an Event is about."""

    kind: str
    namespace: str
    name: str
    uid: str
    api_version: str = API_VERSION


class MissionControlObjects:
    """Reads and status patches of our custom objects, namespace facts, and Events."""

    def __init__(self, kubernetes: KubernetesConnector, *, instance: str | None = None) -> None:
        self._kubernetes = kubernetes
        #: ``reportingInstance`` of our Events: which operator process posted them.
        self.instance = instance or socket.gethostname()

    # -- custom objects -------------------------------------------------------------------

    async def get(self, plural: Plural, *, namespace: str, name: str) -> dict[str, Any] | None:
        """The object as JSON, or None when it does not exist."""
        op = _op("get", plural, namespace=namespace, name=name)
        try:
            data = await self._kubernetes._fetch(
                lambda apis, o: _custom(apis).get_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, name, **o
                ),
                op=op,
                impersonate=None,
            )
        except ConnectorNotFound:
            return None
        return self._object(data, op=op)

    async def list_namespaced(
        self, plural: Plural, *, namespace: str, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Every object of that kind in ``namespace`` (that ``label_selector`` selects)."""
        op = _op("list", plural, namespace=namespace)
        selector: dict[str, Any] = {"label_selector": label_selector} if label_selector else {}
        pages = await self._kubernetes._list(
            lambda apis, o: _custom(apis).list_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, **selector, **o
            ),
            op=op,
            impersonate=None,
        )
        return [item for page in pages for item in self._items(page, op=op)]

    async def list_cluster_scoped(self, plural: Plural) -> list[dict[str, Any]]:
        """Every cluster-scoped object of that kind; none when its CRD is not installed."""
        op = _op("list", plural)
        try:
            pages = await self._kubernetes._list(
                lambda apis, o: _custom(apis).list_cluster_custom_object(
                    GROUP, VERSION, plural, **o
                ),
                op=op,
                impersonate=None,
            )
        except ConnectorNotFound:
            return []
        return [item for page in pages for item in self._items(page, op=op)]

    async def patch_status(
        self, plural: Plural, *, namespace: str | None, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Apply a JSON merge patch to the object's ``status`` subresource; the object after.

        ``namespace`` None: a cluster-scoped object.
        """
        op = _op("patch", plural, namespace=namespace, name=name, subresource="/status")
        body = {"status": dict(patch)}
        if namespace is None:
            data = await self._kubernetes._fetch(
                lambda apis, o: _custom(apis).patch_cluster_custom_object_status(
                    GROUP, VERSION, plural, name, body, _content_type=_MERGE, **o
                ),
                op=op,
                impersonate=None,
            )
        else:
            data = await self._kubernetes._fetch(
                lambda apis, o: _custom(apis).patch_namespaced_custom_object_status(
                    GROUP, VERSION, namespace, plural, name, body, _content_type=_MERGE, **o
                ),
                op=op,
                impersonate=None,
            )
        return self._object(data, op=op)

    async def delete(self, plural: Plural, *, namespace: str, name: str, uid: str) -> bool:
        """Delete the namespaced object ``name`` if it is still the one with ``uid``.

        False when it is already gone or was replaced by an object of the same name (the
        uid precondition fails with a 409): either way there is nothing of ours to delete.
        """
        op = _op("delete", plural, namespace=namespace, name=name)
        body: Any = {"preconditions": {"uid": uid}, "propagationPolicy": "Background"}
        try:
            await self._kubernetes._fetch(
                lambda apis, o: _custom(apis).delete_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, name, body=body, **o
                ),
                op=op,
                impersonate=None,
            )
        except ConnectorNotFound:
            return False
        except ConnectorRequestError:
            # A failed uid precondition is a 409; told apart from other refusals by a read.
            current = await self.get(plural, namespace=namespace, name=name)
            if current is None or (current.get("metadata") or {}).get("uid") != uid:
                return False
            raise
        return True

    async def create(
        self, plural: Plural, *, namespace: str, body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Create the object; None when an object of that name already exists."""
        name = str((body.get("metadata") or {}).get("name"))
        op = _op("create", plural, namespace=namespace, name=name)
        try:
            data = await self._kubernetes._fetch(
                lambda apis, o: _custom(apis).create_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, dict(body), **o
                ),
                op=op,
                impersonate=None,
            )
        except ConnectorRequestError:
            # Told apart from other refusals (a 409 carries no kind of its own) by a read.
            if await self.get(plural, namespace=namespace, name=name) is not None:
                return None
            raise
        return self._object(data, op=op)

    async def patch(
        self, plural: Plural, *, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Apply a JSON merge patch to the object (not its status); the object after."""
        op = _op("patch", plural, namespace=namespace, name=name)
        data = await self._kubernetes._fetch(
            lambda apis, o: _custom(apis).patch_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, name, dict(patch), _content_type=_MERGE, **o
            ),
            op=op,
            impersonate=None,
        )
        return self._object(data, op=op)

    # -- namespace facts ------------------------------------------------------------------

    async def namespace_labels(self, namespace: str) -> dict[str, str]:
        """The labels of ``namespace`` (what ClusterToolPolicy grants select on)."""
        op = Operation(verb="get", resource="namespaces", kind="Namespace", name=namespace)
        data = await self._kubernetes._fetch(
            lambda apis, o: apis.core.read_namespace(namespace, **o), op=op, impersonate=None
        )
        labels = self._object(data, op=op).get("metadata", {}).get("labels") or {}
        return {str(key): str(value) for key, value in labels.items()}

    async def service_account_exists(self, namespace: str, name: str) -> bool:
        """Whether the ServiceAccount ``namespace/name`` exists."""
        op = Operation(
            verb="get",
            resource="serviceaccounts",
            kind="ServiceAccount",
            namespace=namespace,
            name=name,
        )
        try:
            await self._kubernetes._fetch(
                lambda apis, o: apis.core.read_namespaced_service_account(name, namespace, **o),
                op=op,
                impersonate=None,
            )
        except ConnectorNotFound:
            return False
        return True

    # -- events ---------------------------------------------------------------------------

    async def post_event(
        self,
        about: ObjectRef,
        *,
        reason: str,
        message: str,
        warning: bool = False,
        now: datetime | None = None,
    ) -> None:
        """Post one Event about ``about`` (what ``kubectl describe`` lists under Events)."""
        stamp = (now or datetime.now(UTC)).astimezone(UTC)
        text = message if len(message) <= EVENT_MESSAGE_MAX else message[: EVENT_MESSAGE_MAX - 1]
        # A plain dict: the client sends it as it is (its typing asks for its own model).
        body: Any = {
            "metadata": {"generateName": f"{about.name}.", "namespace": about.namespace},
            "involvedObject": {
                "apiVersion": about.api_version,
                "kind": about.kind,
                "namespace": about.namespace,
                "name": about.name,
                "uid": about.uid,
            },
            "reason": reason,
            "message": text,
            "type": "Warning" if warning else "Normal",
            "source": {"component": EVENT_COMPONENT},
            "reportingComponent": EVENT_COMPONENT,
            "reportingInstance": self.instance,
            "firstTimestamp": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lastTimestamp": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "count": 1,
        }
        op = Operation(verb="create", resource="events", kind="Event", namespace=about.namespace)
        await self._kubernetes._fetch(
            lambda apis, o: apis.core.create_namespaced_event(about.namespace, body, **o),
            op=op,
            impersonate=None,
        )

    # -- parsing --------------------------------------------------------------------------

    def _object(self, data: bytes, *, op: Operation) -> dict[str, Any]:
        try:
            parsed = json.loads(data)
        except ValueError as exc:
            raise self._unexpected(op, f"not JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise self._unexpected(op, "not a JSON object")
        return parsed

    def _items(self, page: bytes, *, op: Operation) -> list[dict[str, Any]]:
        items = self._object(page, op=op).get("items")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise self._unexpected(op, "a list without items")
        return items

    def _unexpected(self, op: Operation, why: str) -> ConnectorRequestError:
        error = ConnectorRequestError(
            f"unexpected answer from Kubernetes API server {self._kubernetes.server} to "
            f"{op.verb} {op.target()}: {why}"
        )
        error.source = "kubernetes"
        return error


def _custom(apis: Any) -> k8s.CustomObjectsApi:
    # Built per call over the identity's shared ApiClient: the object holds no state of its own.
    return k8s.CustomObjectsApi(apis.client)


def _op(
    verb: str,
    plural: Plural,
    *,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str = "",
) -> Operation:
    return Operation(
        verb=verb,
        resource=f"{plural}{subresource}",
        kind=_KINDS[plural],
        namespace=namespace,
        name=name,
    )
