"""The Kubernetes connector: the only code that talks to the Kubernetes API.

Built on the official client, which is synchronous: every call runs in a worker thread
with a per-request timeout, so the event loop never blocks. Responses are read raw and
parsed at the edge by :mod:`~mission_control.connectors.kubernetes.wire`, once, into the
small values of :mod:`~mission_control.connectors.kubernetes.objects`: the client's own
model layer would build every field of every object, and it decodes logs strictly, so one
byte of invalid UTF-8 in a container's output would fail the call. Errors are translated
once, by :mod:`~mission_control.connectors.kubernetes.errors`.

Over 400 lines on purpose: one class whose methods are one API call each over the same
plumbing (threads, timeouts, paging, identity, error translation); splitting the class would
spread that plumbing over several modules.

Impersonation (``Impersonate-User``) is per call. Each identity gets its own cached API
client whose default headers are fixed at creation, so one call's identity can never leak
into a concurrent call made for another identity. The cache keeps the ``MAX_IDENTITIES`` most
recently used identities; an evicted client's connection pool is closed once no call uses it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from mission_control.connectors.errors import (
    MUTATION_TIMEOUT_SECONDS,
    ConnectorNotConfigured,
    ConnectorRequestError,
)
from mission_control.connectors.kubernetes.errors import (
    Operation,
    translate_api_error,
    translate_transport_error,
)
from mission_control.connectors.kubernetes.identities import IdentityCache
from mission_control.connectors.kubernetes.objects import (
    RESTARTED_AT_ANNOTATION,
    K8sDeployment,
    K8sEvent,
    K8sNode,
    K8sPod,
    K8sScale,
    K8sWorkload,
)
from mission_control.connectors.kubernetes.wire import (
    continue_token,
    parse_deployment,
    parse_deployments,
    parse_events,
    parse_nodes,
    parse_pod,
    parse_pods,
    parse_scale,
    parse_secret_key,
    parse_workloads,
)
from mission_control.settings import KubernetesSettings

__all__ = [
    "K8sDeployment",
    "K8sEvent",
    "K8sNode",
    "K8sPod",
    "K8sScale",
    "K8sWorkload",
    "KubernetesConnector",
]

T = TypeVar("T")
#: A request to make: gets the API groups and the options every request carries.
_Call = Callable[["_Apis", dict[str, Any]], Any]

#: Seconds to wait for a TCP/TLS connection to the API server.
CONNECT_TIMEOUT = 5.0
#: Items per list page; lists stop after ``MAX_PAGES`` pages so one call stays bounded.
PAGE_SIZE = 500
MAX_PAGES = 10
#: Upper bound of the log bytes read from the API server in one call.
MAX_LOG_BYTES = 1024 * 1024
#: Identities whose API clients (each with its own connection pool) are kept.
MAX_IDENTITIES = 64
_USER_AGENT = "mission-control"
_STRATEGIC_MERGE = "application/strategic-merge-patch+json"
_MERGE = "application/merge-patch+json"


@dataclass(frozen=True)
class _Apis:
    """The API groups we use, all bound to one ApiClient (one identity)."""

    client: k8s.ApiClient
    core: k8s.CoreV1Api
    apps: k8s.AppsV1Api
    version: k8s.VersionApi


def _read(response: Any) -> bytes:
    """The whole body of a raw urllib3 response, returning its connection to the pool."""
    try:
        return bytes(response.data)
    finally:
        response.release_conn()


def _pages(fetch: Callable[[str | None], Any]) -> list[bytes]:
    """Follow ``continue`` tokens until the list ends (or ``MAX_PAGES`` is reached)."""
    pages: list[bytes] = []
    token: str | None = None
    while len(pages) < MAX_PAGES:
        page = _read(fetch(token))
        pages.append(page)
        token = continue_token(page) or None
        if token is None:
            break
    return pages


class KubernetesConnector:
    """Async access to the Kubernetes API for the tools, the inventory and the health check.

    ``impersonate`` on each operation is a Kubernetes user name (typically
    ``system:serviceaccount:NS:NAME``) or None for the operator's own identity.
    """

    def __init__(self, configuration: k8s.Configuration, *, timeout: float = 30.0) -> None:
        # Retry only failures to connect: a request that reached the server is never re-sent,
        # and a 429 comes back to the caller with its Retry-After rather than being waited out.
        configuration.retries = urllib3.Retry(
            total=2,
            connect=2,
            read=0,
            redirect=0,
            status=0,
            other=0,
            backoff_factor=0.2,
            respect_retry_after_header=False,
        )
        self._configuration = configuration
        self._timeout = timeout
        self._clients = IdentityCache(limit=MAX_IDENTITIES, create=self._new_apis, close=_close)
        self.server = urlsplit(configuration.host).netloc or configuration.host

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: KubernetesSettings) -> KubernetesConnector:
        """A kubeconfig file when ``KUBECONFIG`` is set, else the pod's service account."""
        if settings.kubeconfig is not None:
            return cls.from_kubeconfig(settings.kubeconfig)
        return cls.in_cluster()

    @classmethod
    def from_kubeconfig(cls, path: Path, *, context: str | None = None) -> KubernetesConnector:
        configuration = k8s.Configuration()
        try:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(path),
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (ConfigException, OSError, ValueError) as exc:
            raise ConnectorNotConfigured(f"KUBECONFIG: cannot use {path}: {exc}") from None
        return cls(configuration)

    @classmethod
    def in_cluster(cls) -> KubernetesConnector:
        configuration = k8s.Configuration()
        try:
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        except ConfigException as exc:
            raise ConnectorNotConfigured(
                f"KUBECONFIG is not set and no in-cluster service account was found ({exc})"
            ) from None
        return cls(configuration)

    @property
    def cached_identities(self) -> list[str | None]:
        """The identities with a cached client, least recently used first."""
        return self._clients.identities()

    async def aclose(self) -> None:
        """Release every pooled connection."""
        self._clients.close_all()

    # -- plumbing -------------------------------------------------------------------------

    def _new_apis(self, impersonate: str | None) -> _Apis:
        if impersonate is None:
            api_client = k8s.ApiClient(self._configuration)
        else:
            api_client = k8s.ApiClient(
                self._configuration, header_name="Impersonate-User", header_value=impersonate
            )
        api_client.user_agent = _USER_AGENT
        return _Apis(
            client=api_client,
            core=k8s.CoreV1Api(api_client),
            apps=k8s.AppsV1Api(api_client),
            version=k8s.VersionApi(api_client),
        )

    async def _in_thread(
        self, work: Callable[[_Apis], T], *, op: Operation, impersonate: str | None
    ) -> T:
        with self._clients.use(impersonate) as apis:
            try:
                return await asyncio.to_thread(work, apis)
            except ApiException as exc:
                raise translate_api_error(
                    exc, op=op, impersonate=impersonate, server=self.server
                ) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise translate_transport_error(
                    exc, server=self.server, timeout=self._timeout, op=op
                ) from exc

    def _raw_options(self, *, mutates: bool = False) -> dict[str, Any]:
        # Raw responses: we parse the JSON ourselves (see the module docstring). A change waits
        # longer than any tool's bound, so that bound (an unknown outcome) ends it first.
        read = max(self._timeout, MUTATION_TIMEOUT_SECONDS) if mutates else self._timeout
        return {"_preload_content": False, "_request_timeout": (CONNECT_TIMEOUT, read)}

    async def _fetch(self, call: _Call, *, op: Operation, impersonate: str | None) -> bytes:
        """One request; ``call`` gets the API groups and the options every request needs."""
        options = self._raw_options(mutates=op.mutates)
        return await self._in_thread(
            lambda apis: _read(call(apis, options)), op=op, impersonate=impersonate
        )

    async def _list(self, call: _Call, *, op: Operation, impersonate: str | None) -> list[bytes]:
        """Every page of a list request (bounded by ``MAX_PAGES``)."""
        options = self._raw_options()
        return await self._in_thread(
            lambda apis: _pages(
                lambda token: call(apis, {**options, "limit": PAGE_SIZE, "_continue": token})
            ),
            op=op,
            impersonate=impersonate,
        )

    def _parse(self, parse: Callable[[], T], *, op: Operation) -> T:
        try:
            return parse()
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise ConnectorRequestError(
                f"unexpected answer from Kubernetes API server {self.server} to {op.verb} "
                f"{op.target()}: {exc}"
            ) from exc

    # -- health and inventory -------------------------------------------------------------

    async def check(self) -> None:
        """Reach the API server with our credentials (``/version``); raise if that fails."""
        op = Operation(verb="get", resource="version", kind="Version")
        await self._fetch(lambda apis, o: apis.version.get_code(**o), op=op, impersonate=None)

    async def list_nodes(self) -> list[K8sNode]:
        op = Operation(verb="list", resource="nodes", kind="Node")
        pages = await self._list(lambda apis, o: apis.core.list_node(**o), op=op, impersonate=None)
        return self._parse(lambda: parse_nodes(pages), op=op)

    async def list_workloads(self) -> list[K8sWorkload]:
        """Deployments, StatefulSets and DaemonSets in every namespace."""
        op = Operation(verb="list", resource="deployments", kind="Deployment")
        deployments = await self._list(
            lambda apis, o: apis.apps.list_deployment_for_all_namespaces(**o),
            op=op,
            impersonate=None,
        )
        statefulsets = await self._list(
            lambda apis, o: apis.apps.list_stateful_set_for_all_namespaces(**o),
            op=Operation(verb="list", resource="statefulsets", kind="StatefulSet"),
            impersonate=None,
        )
        daemonsets = await self._list(
            lambda apis, o: apis.apps.list_daemon_set_for_all_namespaces(**o),
            op=Operation(verb="list", resource="daemonsets", kind="DaemonSet"),
            impersonate=None,
        )
        return self._parse(
            lambda: [
                *parse_workloads("Deployment", deployments),
                *parse_workloads("StatefulSet", statefulsets),
                *parse_workloads("DaemonSet", daemonsets),
            ],
            op=op,
        )

    # -- deployments ----------------------------------------------------------------------

    async def list_deployments(
        self, namespace: str, *, impersonate: str | None = None
    ) -> list[K8sDeployment]:
        op = Operation(verb="list", resource="deployments", kind="Deployment", namespace=namespace)
        pages = await self._list(
            lambda apis, o: apis.apps.list_namespaced_deployment(namespace, **o),
            op=op,
            impersonate=impersonate,
        )
        return self._parse(lambda: parse_deployments(pages), op=op)

    async def get_deployment(
        self, namespace: str, name: str, *, impersonate: str | None = None
    ) -> K8sDeployment:
        op = _deployment_op("get", namespace=namespace, name=name)
        data = await self._fetch(
            lambda apis, o: apis.apps.read_namespaced_deployment(name, namespace, **o),
            op=op,
            impersonate=impersonate,
        )
        return self._parse(lambda: parse_deployment(data), op=op)

    async def restart_deployment(
        self,
        namespace: str,
        name: str,
        *,
        impersonate: str | None = None,
        now: datetime | None = None,
    ) -> K8sDeployment:
        """Roll the pods the way ``kubectl rollout restart`` does: stamp the pod template."""
        stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: stamp}}}}
        }
        op = _deployment_op("patch", namespace=namespace, name=name, once=True)
        data = await self._fetch(
            lambda apis, o: apis.apps.patch_namespaced_deployment(
                name, namespace, body, _content_type=_STRATEGIC_MERGE, **o
            ),
            op=op,
            impersonate=impersonate,
        )
        return self._parse(lambda: parse_deployment(data), op=op)

    async def scale_deployment(
        self, namespace: str, name: str, *, replicas: int, impersonate: str | None = None
    ) -> K8sScale:
        """Set the desired replicas through the scale subresource (what ``kubectl scale`` uses)."""
        op = _deployment_op(
            "patch", namespace=namespace, name=name, subresource="/scale", once=True
        )
        data = await self._fetch(
            lambda apis, o: apis.apps.patch_namespaced_deployment_scale(
                name, namespace, {"spec": {"replicas": replicas}}, _content_type=_MERGE, **o
            ),
            op=op,
            impersonate=impersonate,
        )
        return self._parse(lambda: parse_scale(data), op=op)

    # -- pods -----------------------------------------------------------------------------

    async def list_pods(
        self, namespace: str, *, label_selector: str | None = None, impersonate: str | None = None
    ) -> list[K8sPod]:
        op = Operation(verb="list", resource="pods", kind="Pod", namespace=namespace)
        pages = await self._list(
            lambda apis, o: apis.core.list_namespaced_pod(
                namespace, label_selector=label_selector or None, **o
            ),
            op=op,
            impersonate=impersonate,
        )
        return self._parse(lambda: parse_pods(pages), op=op)

    async def get_pod(self, namespace: str, name: str, *, impersonate: str | None = None) -> K8sPod:
        op = Operation(verb="get", resource="pods", kind="Pod", namespace=namespace, name=name)
        data = await self._fetch(
            lambda apis, o: apis.core.read_namespaced_pod(name, namespace, **o),
            op=op,
            impersonate=impersonate,
        )
        return self._parse(lambda: parse_pod(data), op=op)

    async def read_secret_key(
        self, namespace: str, name: str, key: str, *, impersonate: str | None = None
    ) -> str:
        """The text under ``key`` of Secret ``namespace/name`` (notification receivers).

        Always called with a ServiceAccount to impersonate: the operator itself may not read
        Secrets. A missing key is :class:`ConnectorNotFound`; the value never appears in an
        error.
        """
        op = Operation(
            verb="get", resource="secrets", kind="Secret", namespace=namespace, name=name
        )
        data = await self._fetch(
            lambda apis, o: apis.core.read_namespaced_secret(name, namespace, **o),
            op=op,
            impersonate=impersonate,
        )
        return self._parse(lambda: parse_secret_key(data, key=key, op=op), op=op)

    async def read_pod_log(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
        previous: bool = False,
        limit_bytes: int = MAX_LOG_BYTES,
        impersonate: str | None = None,
    ) -> str:
        """A container's log as text (the API server proxies it from the node's kubelet)."""
        op = Operation(verb="get", resource="pods/log", kind="Pod", namespace=namespace, name=name)
        data = await self._fetch(
            lambda apis, o: apis.core.read_namespaced_pod_log(
                name,
                namespace,
                container=container,
                tail_lines=tail_lines,
                since_seconds=since_seconds,
                previous=previous or None,
                limit_bytes=min(limit_bytes, MAX_LOG_BYTES),
                **o,
            ),
            op=op,
            impersonate=impersonate,
        )
        return data.decode("utf-8", errors="replace")

    async def delete_pod(
        self, namespace: str, name: str, *, uid: str | None = None, impersonate: str | None = None
    ) -> None:
        """Delete one pod; with ``uid``, only if it is still that very pod (not a replacement)."""
        op = Operation(
            verb="delete", resource="pods", kind="Pod", namespace=namespace, name=name, once=True
        )
        options = k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(uid=uid)) if uid else None
        await self._fetch(
            lambda apis, o: apis.core.delete_namespaced_pod(name, namespace, body=options, **o),
            op=op,
            impersonate=impersonate,
        )

    # -- events ---------------------------------------------------------------------------

    async def list_events(
        self,
        namespace: str,
        *,
        kind: str | None = None,
        name: str | None = None,
        impersonate: str | None = None,
    ) -> list[K8sEvent]:
        """Events in a namespace, optionally only those about one object; newest first."""
        selectors = [f"involvedObject.kind={kind}"] if kind else []
        selectors += [f"involvedObject.name={name}"] if name else []
        op = Operation(verb="list", resource="events", kind="Event", namespace=namespace)
        pages = await self._list(
            lambda apis, o: apis.core.list_namespaced_event(
                namespace, field_selector=",".join(selectors) or None, **o
            ),
            op=op,
            impersonate=impersonate,
        )
        events = self._parse(lambda: parse_events(pages), op=op)
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(events, key=lambda event: event.last_seen or epoch, reverse=True)


def _close(apis: _Apis) -> None:
    # The client's thread pool is never started (no async_req), so only the pool of
    # connections needs closing.
    apis.client.rest_client.close()


def _deployment_op(
    verb: str, *, namespace: str, name: str, subresource: str = "", once: bool = False
) -> Operation:
    return Operation(
        verb=verb,
        resource=f"deployments{subresource}",
        kind="Deployment",
        namespace=namespace,
        name=name,
        once=once,
    )
