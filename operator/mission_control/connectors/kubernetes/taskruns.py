"""TaskRuns as a person at a terminal sees them: for ``mission-control approve|reject``.

Unlike :class:`~mission_control.connectors.kubernetes.client.KubernetesConnector` (the
operator's connection, impersonating a run's service account), this one acts with the caller's
own credentials, found the way kubectl finds them (``KUBECONFIG`` or ``~/.kube/config``, the
current or a named context, else the pod's service account), so the API server attests who
approved. It reads a TaskRun, asks who the caller is (``SelfSubjectReview``, what
``kubectl auth whoami`` prints) and sends JSON patches whose ``test`` operations make the API
server refuse a change made against a state that moved on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from mission_control.connectors.errors import (
    ConnectorAuthError,
    ConnectorError,
    ConnectorForbidden,
    ConnectorNotConfigured,
    ConnectorNotFound,
    ConnectorRequestError,
    ConnectorUnavailable,
)

__all__ = ["CallerIdentity", "PatchTestFailed", "TaskRunAccess"]

T = TypeVar("T")
_GROUP, _VERSION, _PLURAL = "missioncontrol.dev", "v1alpha1", "taskruns"
_IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_TIMEOUT = (5.0, 30.0)
_MESSAGE_LIMIT = 600
#: What the API server answers (422, no details) when a JSON patch's ``test`` fails.
_TEST_FAILED = "the server rejected our request due to an error in our request"


class PatchTestFailed(ConnectorRequestError):
    """A ``test`` operation of a JSON patch failed: the object changed since it was read."""


@dataclass(frozen=True)
class CallerIdentity:
    """Who the API server says the caller is."""

    username: str
    groups: tuple[str, ...]


class TaskRunAccess:
    """Read, and JSON-patch, TaskRuns with the caller's own credentials."""

    def __init__(self, api_client: k8s.ApiClient, *, default_namespace: str) -> None:
        self._api_client = api_client
        self._objects = k8s.CustomObjectsApi(api_client)
        self._auth = k8s.AuthenticationV1Api(api_client)
        self.default_namespace = default_namespace
        self.server = api_client.configuration.host

    @classmethod
    def connect(cls, *, kubeconfig: Path | None, context: str | None) -> TaskRunAccess:
        """kubectl's rules: ``kubeconfig`` (or the default file) and its context, else in-cluster.

        ``kubeconfig`` may list several files separated by ``:``, as ``KUBECONFIG`` does.
        """
        configuration = k8s.Configuration()
        config_file = str(kubeconfig) if kubeconfig is not None else None
        default_file = Path(k8s_config.KUBE_CONFIG_DEFAULT_LOCATION).expanduser()
        if config_file is None and not default_file.exists() and context is None:
            return cls._in_cluster(configuration)
        try:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=config_file,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
            contexts, active = k8s_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
                config_file=config_file
            )
        except (ConfigException, OSError, ValueError) as exc:
            where = config_file or str(default_file)
            raise ConnectorNotConfigured(f"KUBECONFIG: cannot use {where}: {exc}") from None
        if context is not None:
            active = next((c for c in contexts if c.get("name") == context), active)
        namespace = (active or {}).get("context", {}).get("namespace") or "default"
        return cls(k8s.ApiClient(configuration), default_namespace=str(namespace))

    @classmethod
    def _in_cluster(cls, configuration: k8s.Configuration) -> TaskRunAccess:
        try:
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        except ConfigException as exc:
            raise ConnectorNotConfigured(
                "no kubeconfig found (KUBECONFIG is not set and ~/.kube/config does not exist) "
                f"and not running in a pod ({exc})"
            ) from None
        try:
            namespace = _IN_CLUSTER_NAMESPACE.read_text().strip() or "default"
        except OSError:
            namespace = "default"
        return cls(k8s.ApiClient(configuration), default_namespace=namespace)

    async def aclose(self) -> None:
        """Release the pooled connections."""
        self._api_client.rest_client.close()

    async def whoami(self) -> CallerIdentity:
        """The caller's user name and groups, as the API server authenticated them."""
        body = k8s.V1SelfSubjectReview(
            api_version="authentication.k8s.io/v1", kind="SelfSubjectReview"
        )
        review = await self._call(
            lambda: self._auth.create_self_subject_review(
                body, _preload_content=False, _request_timeout=_TIMEOUT
            ),
            what="ask the API server who you are (create selfsubjectreviews)",
        )
        info = review.get("status", {}).get("userInfo", {})
        username = info.get("username")
        if not isinstance(username, str) or not username:
            raise ConnectorRequestError(
                f"Kubernetes API server {self.server} did not say who you are "
                "(SelfSubjectReview without a user name)"
            )
        groups = info.get("groups") or []
        return CallerIdentity(username=username, groups=tuple(str(g) for g in groups))

    async def get(self, namespace: str, name: str) -> dict[str, Any]:
        """The TaskRun as JSON."""
        return await self._call(
            lambda: self._objects.get_namespaced_custom_object(
                _GROUP,
                _VERSION,
                namespace,
                _PLURAL,
                name,
                _preload_content=False,
                _request_timeout=_TIMEOUT,
            ),
            what=f"get taskrun {namespace}/{name}",
            not_found=f"taskrun {namespace}/{name} not found",
        )

    async def json_patch(
        self, namespace: str, name: str, operations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Apply a JSON patch (RFC 6902); a failed ``test`` raises :class:`PatchTestFailed`."""
        return await self._call(
            lambda: self._objects.patch_namespaced_custom_object(
                _GROUP,
                _VERSION,
                namespace,
                _PLURAL,
                name,
                operations,
                _content_type="application/json-patch+json",
                _preload_content=False,
                _request_timeout=_TIMEOUT,
            ),
            what=f"patch taskrun {namespace}/{name}",
            not_found=f"taskrun {namespace}/{name} not found",
        )

    async def _call(
        self, request: Callable[[], Any], *, what: str, not_found: str | None = None
    ) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            response = request()
            try:
                data = json.loads(response.data)
            finally:
                response.release_conn()
            if not isinstance(data, dict):
                raise ConnectorRequestError(f"unexpected answer to {what}: not a JSON object")
            return data

        try:
            return await asyncio.to_thread(run)
        except ApiException as exc:
            raise self._translate(exc, what=what, not_found=not_found) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            error = ConnectorUnavailable(
                f"Kubernetes API server {self.server} is unreachable: {type(exc).__name__}"
            )
            error.source = "kubernetes"
            raise error from None
        except ValueError as exc:
            raise ConnectorRequestError(f"unexpected answer to {what}: {exc}") from None

    def _translate(self, exc: ApiException, *, what: str, not_found: str | None) -> ConnectorError:
        status = int(exc.status or 0)
        message = _status_message(exc)
        error: ConnectorError
        if status == 401:
            error = ConnectorAuthError(
                f"Kubernetes API server {self.server} refused your credentials (401): "
                "log in again or check your kubeconfig"
            )
        elif status == 403:
            # Admission policies and RBAC both answer 403; their messages say what to fix.
            error = ConnectorForbidden(f"cannot {what}: {message}")
        elif status == 404:
            error = ConnectorNotFound(not_found or f"cannot {what}: not found")
        elif status == 422 and message == _TEST_FAILED:
            error = PatchTestFailed(f"cannot {what}: it changed since it was read")
        elif status == 0 or status >= 500 or status == 429:
            error = ConnectorUnavailable(f"cannot {what} ({status or 'TLS'}): {message}")
        else:
            error = ConnectorRequestError(f"cannot {what} ({status}): {message}")
        error.source = "kubernetes"
        return error


def _status_message(exc: ApiException) -> str:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return str(parsed["message"])[:_MESSAGE_LIMIT]
    return (str(exc.reason or "") or f"HTTP {exc.status}")[:_MESSAGE_LIMIT]
