"""Translation of the Kubernetes client's failures into connector errors, in one place.

The official client raises :class:`kubernetes.client.ApiException` for HTTP errors (and for
TLS failures, with status 0) and lets urllib3's exceptions through for everything on the
socket. :func:`translate_api_error` and :func:`translate_transport_error` turn both into
:mod:`mission_control.connectors.errors` with messages a user can act on: who may not do
what, where (RBAC), which object is missing, which API server is unreachable. Messages
never carry credentials: only the API server's own status message is quoted.
"""

from __future__ import annotations

import json
import re
import ssl
from dataclasses import dataclass

import urllib3
from kubernetes.client.exceptions import ApiException

from mission_control.connectors.errors import (
    ConnectorAuthError,
    ConnectorError,
    ConnectorForbidden,
    ConnectorNotFound,
    ConnectorOutcomeUnknown,
    ConnectorRequestError,
    ConnectorUnavailable,
)
from mission_control.errors import parse_retry_after

__all__ = ["Operation", "describe_identity", "translate_api_error", "translate_transport_error"]

_SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
_MESSAGE_LIMIT = 500
_OBJECT_REPR = re.compile(r"<[^<>]* object at 0x[0-9a-f]+>:?\s*")


@dataclass(frozen=True, kw_only=True)
class Operation:
    """What a call was trying to do, in RBAC terms, so errors can say it back."""

    verb: str  # get, list, patch, delete
    resource: str  # plural resource, with subresource: "pods", "pods/log", "deployments/scale"
    kind: str  # Pod, Deployment, ... (for "not found" messages)
    namespace: str | None = None
    name: str | None = None

    def object(self) -> str:
        """The object itself: ``pod media/web-0``."""
        where = f"{self.namespace}/{self.name}" if self.namespace else str(self.name)
        return f"{self.kind.lower()} {where}"

    def target(self) -> str:
        """``deployment media/web``, ``log of pod media/web-0``, ``pods in namespace media``."""
        if self.name is not None:
            subresource = self.resource.partition("/")[2]
            return f"{subresource} of {self.object()}" if subresource else self.object()
        if self.namespace:
            return f"{self.resource} in namespace {self.namespace}"
        return f"{self.resource} cluster-wide"

    def scope(self) -> str:
        return f"in namespace {self.namespace}" if self.namespace else "cluster-wide"

    #: A change made for a tool call: sent once, so a failure after it may have arrived is
    #: :class:`ConnectorOutcomeUnknown`, never a retryable error. Idempotent writes (status
    #: patches of our own objects) leave it False and stay retryable.
    once: bool = False

    @property
    def mutates(self) -> bool:
        """Whether the request must be sent at most once (see ``once``)."""
        return self.once and self.verb not in _READ_VERBS

    def unknown(self, server: str, why: str) -> ConnectorOutcomeUnknown:
        """The error of a change that may have reached ``server`` without a known result."""
        error = ConnectorOutcomeUnknown(
            f"Kubernetes API server {server} may have received the request to {self.verb} "
            f"{self.target()}, but {why}; check the {self.kind.lower()}'s current state "
            "before trying again"
        )
        error.source = "kubernetes"
        return error


_READ_VERBS = frozenset({"get", "list", "watch"})


def describe_identity(impersonate: str | None) -> str:
    """How an identity reads in a message: ``service account media/agent``, ``user bob``."""
    if impersonate is None:
        return "the operator's own identity"
    if impersonate.startswith(_SERVICE_ACCOUNT_PREFIX):
        namespace, _, name = impersonate.removeprefix(_SERVICE_ACCOUNT_PREFIX).partition(":")
        return f"service account {namespace}/{name}"
    return f"user {impersonate}"


def _status_message(exc: ApiException) -> str:
    """The ``message`` of the API server's Status body, else its reason phrase."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    message = ""
    if body:
        try:
            parsed = json.loads(body)
        except ValueError:
            message = body.strip()
        else:
            if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
                message = parsed["message"]
    if not message:
        reason = str(exc.reason or "").strip()
        message = reason.splitlines()[0] if reason else f"HTTP {exc.status}"
    return message[:_MESSAGE_LIMIT]


def _forbidden(*, op: Operation, impersonate: str | None, message: str) -> ConnectorForbidden:
    if "is being terminated" in message:  # the namespace's deletion, not RBAC
        return ConnectorForbidden(
            f"namespace {op.namespace} is being deleted: nothing new can be created in it "
            f"(the API server said: {message})"
        )
    who = describe_identity(impersonate)
    if impersonate is not None and "cannot impersonate" in message:
        return ConnectorForbidden(
            f"the operator may not impersonate {who} (RBAC): grant its ClusterRole the "
            f"impersonate verb on serviceaccounts, or remove serviceAccountName"
        )
    if impersonate is None:
        fix = "grant the operator's ClusterRole this permission"
    elif impersonate.startswith(_SERVICE_ACCOUNT_PREFIX):
        fix = "grant it a Role or remove serviceAccountName"
    else:
        fix = "grant it a Role"
    return ConnectorForbidden(f"{who} may not {op.verb} {op.resource} {op.scope()} (RBAC): {fix}")


def translate_api_error(
    exc: ApiException, *, op: Operation, impersonate: str | None, server: str
) -> ConnectorError:
    """Turn an HTTP error of the API server into the connector error that explains it."""
    status = int(exc.status or 0)
    message = _status_message(exc)
    error: ConnectorError
    if status == 0:  # the client reports TLS failures this way
        error = ConnectorUnavailable(f"Kubernetes API server {server}: TLS failed: {message}")
    elif status == 401:
        error = ConnectorAuthError(
            f"Kubernetes API server {server} refused the operator's credentials (401): "
            "check KUBECONFIG or the pod's service account token"
        )
    elif status == 403:
        error = _forbidden(op=op, impersonate=impersonate, message=message)
    elif status == 404:
        error = ConnectorNotFound(f"{op.object() if op.name else op.target()} not found")
    elif status == 429:
        error = ConnectorUnavailable(
            f"Kubernetes API server {server} is throttling requests (429): {message}",
            retry_after=parse_retry_after((exc.headers or {}).get("Retry-After")),
        )
    elif status >= 500 and op.mutates:
        return op.unknown(server, f"it answered {status} ({message})")
    elif status >= 500:
        error = ConnectorUnavailable(
            f"Kubernetes API server {server} failed to {op.verb} {op.target()} "
            f"({status}): {message}"
        )
    else:
        error = ConnectorRequestError(
            f"Kubernetes API rejected {op.verb} {op.target()} ({status}): {message}"
        )
    error.source = "kubernetes"
    return error


def translate_transport_error(
    exc: BaseException, *, server: str, timeout: float, op: Operation | None = None
) -> ConnectorError:
    """Turn a socket-level failure (refused, reset, timed out) into a connector error.

    For a change (``op.mutates``) only a failure that proves nothing was sent (no connection:
    refused, DNS, TLS handshake, connect timeout) stays retryable ``ConnectorUnavailable``;
    anything later is :class:`ConnectorOutcomeUnknown`.
    """
    # urllib3 wraps the real cause (refused, timed out, reset) in MaxRetryError.reason.
    cause = exc
    while isinstance(getattr(cause, "reason", None), BaseException):
        cause = cause.reason  # type: ignore[attr-defined]
    not_sent = isinstance(
        cause,
        urllib3.exceptions.NewConnectionError
        | urllib3.exceptions.ConnectTimeoutError
        | urllib3.exceptions.SSLError
        | ssl.SSLError,
    )
    timed_out = isinstance(cause, TimeoutError) or "Timeout" in type(cause).__name__
    # Drop urllib3's object reprs ("<HTTPSConnection object at 0x...>: ") from the text.
    text = _OBJECT_REPR.sub("", str(cause)) or type(cause).__name__
    if op is not None and op.mutates and not not_sent:
        return op.unknown(server, "no answer came in time" if timed_out else f"{text}")
    error: ConnectorError
    if timed_out:
        error = ConnectorUnavailable(
            f"Kubernetes API server {server} did not answer within {timeout:g}s"
        )
    else:
        error = ConnectorUnavailable(f"Kubernetes API server {server} is unreachable: {text}")
    error.source = "kubernetes"
    return error
