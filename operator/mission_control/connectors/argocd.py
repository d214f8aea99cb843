"""Argo CD over its REST API (the gRPC gateway under ``/api/v1``) with a bearer token.

HTTP failures are translated once, in :meth:`ArgoCDConnector._request`. Argo CD answers an
application that does not exist exactly like one the account may not see (403 "permission
denied"), so that message says both. Applications are parsed at the edge into
:class:`ArgoApplication`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mission_control.connectors.errors import (
    MUTATION_TIMEOUT_SECONDS,
    ConnectorAuthError,
    ConnectorForbidden,
    ConnectorNotFound,
    ConnectorOutcomeUnknown,
    ConnectorRequestError,
    ConnectorUnavailable,
    display_url,
)
from mission_control.settings import ArgoCDSettings

__all__ = ["ArgoApplication", "ArgoCDConnector", "ArgoCondition", "ArgoHistoryEntry"]


@dataclass(frozen=True, kw_only=True)
class ArgoCondition:
    """An application condition (errors and warnings such as ``ComparisonError``)."""

    type: str
    message: str
    last_transition_time: str | None


@dataclass(frozen=True, kw_only=True)
class ArgoHistoryEntry:
    """One past deployment; its ``id`` is what a rollback names."""

    id: int
    revision: str
    deployed_at: str | None


@dataclass(frozen=True, kw_only=True)
class ArgoOperation:
    """The last (or current) operation on the application: a sync or a rollback."""

    phase: str  # Running | Succeeded | Failed | Error | Terminating
    message: str
    started_at: str | None
    finished_at: str | None
    revision: str | None


@dataclass(frozen=True, kw_only=True)
class ArgoApplication:
    """The fields of an Argo CD Application that matter to an operator."""

    name: str
    project: str
    labels: dict[str, str]
    repo_url: str
    path: str
    target_revision: str
    destination_server: str
    destination_namespace: str
    sync_status: str  # Synced | OutOfSync | Unknown
    sync_revision: str
    health_status: str  # Healthy | Progressing | Degraded | Suspended | Missing | Unknown
    health_message: str
    automated_sync: bool
    conditions: tuple[ArgoCondition, ...]
    operation: ArgoOperation | None
    history: tuple[ArgoHistoryEntry, ...]


# -- wire models: the subset of v1alpha1.Application that is read ----------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Metadata(_Wire):
    name: str
    labels: dict[str, str] | None = None


class _Source(_Wire):
    repo_url: str = Field(default="", alias="repoURL")
    path: str = ""
    chart: str = ""
    target_revision: str = Field(default="", alias="targetRevision")


class _Destination(_Wire):
    server: str = ""
    name: str = ""
    namespace: str = ""


class _SyncPolicy(_Wire):
    automated: dict[str, Any] | None = None


class _Spec(_Wire):
    project: str = "default"
    source: _Source | None = None
    sources: list[_Source] | None = None
    destination: _Destination = _Destination()
    sync_policy: _SyncPolicy | None = Field(default=None, alias="syncPolicy")


class _SyncStatus(_Wire):
    status: str = "Unknown"
    revision: str = ""
    revisions: list[str] | None = None


class _Health(_Wire):
    status: str = "Unknown"
    message: str = ""


class _Condition(_Wire):
    type: str
    message: str = ""
    last_transition_time: str | None = Field(default=None, alias="lastTransitionTime")


class _SyncResult(_Wire):
    revision: str = ""


class _OperationState(_Wire):
    phase: str = "Unknown"
    message: str = ""
    started_at: str | None = Field(default=None, alias="startedAt")
    finished_at: str | None = Field(default=None, alias="finishedAt")
    sync_result: _SyncResult | None = Field(default=None, alias="syncResult")


class _History(_Wire):
    id: int
    revision: str = ""
    deployed_at: str | None = Field(default=None, alias="deployedAt")


class _Status(_Wire):
    sync: _SyncStatus = _SyncStatus()
    health: _Health = _Health()
    conditions: list[_Condition] | None = None
    operation_state: _OperationState | None = Field(default=None, alias="operationState")
    history: list[_History] | None = None


class _Application(_Wire):
    metadata: _Metadata
    spec: _Spec = _Spec()
    status: _Status = _Status()


class _ApplicationList(_Wire):
    # Argo CD sends ``"items": null`` when there are no applications.
    items: list[_Application] | None = None


def _to_application(wire: _Application) -> ArgoApplication:
    source = wire.spec.source or (wire.spec.sources[0] if wire.spec.sources else _Source())
    status = wire.status
    op = status.operation_state
    dest = wire.spec.destination
    return ArgoApplication(
        name=wire.metadata.name,
        project=wire.spec.project,
        labels=dict(wire.metadata.labels or {}),
        repo_url=source.repo_url,
        path=source.path or source.chart,
        target_revision=source.target_revision or "HEAD",
        destination_server=dest.server or dest.name,
        destination_namespace=dest.namespace,
        sync_status=status.sync.status,
        sync_revision=status.sync.revision or ",".join(status.sync.revisions or []),
        health_status=status.health.status,
        health_message=status.health.message,
        automated_sync=bool(wire.spec.sync_policy and wire.spec.sync_policy.automated is not None),
        conditions=tuple(
            ArgoCondition(
                type=c.type, message=c.message, last_transition_time=c.last_transition_time
            )
            for c in status.conditions or []
        ),
        operation=None
        if op is None
        else ArgoOperation(
            phase=op.phase,
            message=op.message,
            started_at=op.started_at,
            finished_at=op.finished_at,
            revision=op.sync_result.revision if op.sync_result else None,
        ),
        history=tuple(
            ArgoHistoryEntry(id=h.id, revision=h.revision, deployed_at=h.deployed_at)
            for h in status.history or []
        ),
    )


#: An application name is a Kubernetes object name (DNS-1123 subdomain). Checked before a
#: name becomes part of a URL path: httpx resolves ``..`` segments, so ``../session`` would
#: otherwise reach another endpoint.
_APP_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


def _app_path(name: str, action: str = "") -> str:
    if not _APP_NAME.fullmatch(name) or ".." in name:
        raise ConnectorRequestError(
            f"{name[:100]!r} is not an Argo CD application name (lowercase letters, digits, "
            "'-' and '.', at most 253 characters)"
        )
    return f"/api/v1/applications/{name}{action}"


class ArgoCDConnector:
    """Reads, syncs and rolls back Argo CD applications."""

    def __init__(self, *, client: httpx.AsyncClient, url: str) -> None:
        self._client = client
        #: The server's URL as messages show it (never with credentials).
        self.url = display_url(url)

    @classmethod
    def from_settings(cls, settings: ArgoCDSettings) -> ArgoCDConnector:
        if settings.url is None or settings.token is None:
            raise ValueError("Argo CD settings need ARGOCD_URL and ARGOCD_TOKEN")
        url = settings.url.get_secret_value().rstrip("/")
        verify = settings.tls_verify()
        client = httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {settings.token.get_secret_value()}"},
            timeout=settings.timeout_seconds,
            verify=verify,
        )
        return cls(client=client, url=url)

    def __repr__(self) -> str:
        return f"ArgoCDConnector(url={self.url!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check(self) -> None:
        """Raise a connector error unless the API answers and accepts the token."""
        info = await self._request("GET", "/api/v1/session/userinfo", what="check the token")
        if not isinstance(info, dict) or not info.get("loggedIn"):
            raise ConnectorAuthError(
                f"Argo CD at {self.url} does not accept the token; check ARGOCD_TOKEN "
                "(an API token of an account with apiKey capability)"
            )

    async def get_application(self, name: str) -> ArgoApplication:
        body = await self._request("GET", _app_path(name), what=f"read application {name}")
        return _to_application(self._parse(_Application, body, what=f"application {name}"))

    async def list_applications(self) -> list[ArgoApplication]:
        body = await self._request("GET", "/api/v1/applications", what="list applications")
        items = self._parse(_ApplicationList, body, what="application list").items or []
        return sorted((_to_application(i) for i in items), key=lambda app: app.name)

    async def sync_application(
        self, name: str, *, revision: str | None, prune: bool, dry_run: bool
    ) -> ArgoApplication:
        payload: dict[str, Any] = {"name": name, "prune": prune, "dryRun": dry_run}
        if revision:
            payload["revision"] = revision
        body = await self._request(
            "POST", _app_path(name, "/sync"), json=payload, what=f"sync {name}", mutates=True
        )
        return _to_application(self._parse(_Application, body, what=f"application {name}"))

    async def rollback_application(
        self, name: str, *, history_id: int, prune: bool, dry_run: bool
    ) -> ArgoApplication:
        payload = {"name": name, "id": history_id, "prune": prune, "dryRun": dry_run}
        body = await self._request(
            "POST",
            _app_path(name, "/rollback"),
            json=payload,
            what=f"roll back {name} to history id {history_id}",
            mutates=True,
        )
        return _to_application(self._parse(_Application, body, what=f"application {name}"))

    # -- the one place httpx errors and Argo CD error bodies are translated -------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: dict[str, Any] | None = None,
        mutates: bool = False,
    ) -> Any:
        """One request. A change (``mutates``) is sent once and waited for until the tool's
        own bound; a failure after it may have arrived is :class:`ConnectorOutcomeUnknown`."""
        where = f"Argo CD at {self.url}"
        unknown = f"{where} may have received the request to {what}, but " if mutates else None
        check = "check the application's last operation (get_argocd_app_status) before trying again"
        timeout: Any = httpx.USE_CLIENT_DEFAULT
        if mutates:
            default = self._client.timeout
            timeout = httpx.Timeout(
                MUTATION_TIMEOUT_SECONDS, connect=default.connect, pool=default.pool
            )
        try:
            response = await self._client.request(method, path, json=json, timeout=timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing was sent: no connection (refused, DNS, TLS handshake) or no free one.
            if isinstance(exc, httpx.TimeoutException):
                raise ConnectorUnavailable(
                    f"{where} did not accept a connection in time ({what}); check the server "
                    "or raise ARGOCD_TIMEOUT_SECONDS"
                ) from None
            raise ConnectorUnavailable(f"{where} is unreachable ({what}): {exc}") from None
        except httpx.TimeoutException:
            if unknown is not None:
                raise ConnectorOutcomeUnknown(f"{unknown}did not answer; {check}") from None
            raise ConnectorUnavailable(
                f"{where} did not answer in time ({what}); check the server or raise "
                "ARGOCD_TIMEOUT_SECONDS"
            ) from None
        except httpx.HTTPError as exc:
            if unknown is not None:
                raise ConnectorOutcomeUnknown(
                    f"{unknown}the connection failed before an answer ({exc}); {check}"
                ) from None
            raise ConnectorUnavailable(f"{where} is unreachable ({what}): {exc}") from None
        if response.is_success:
            try:
                return response.json()
            except ValueError:
                if unknown is not None:
                    raise ConnectorOutcomeUnknown(
                        f"{unknown}its answer is not JSON; {check}"
                    ) from None
                raise ConnectorUnavailable(f"{where} sent a non-JSON answer ({what})") from None
        error = _translate_status(response, where=where, what=what)
        if unknown is not None and response.status_code >= 500:
            raise ConnectorOutcomeUnknown(
                f"{unknown}answered {response.status_code} {response.reason_phrase}; {check}"
            )
        raise error

    def _parse(self, model: type[_Wire], body: Any, *, what: str) -> Any:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise ConnectorUnavailable(
                f"Argo CD at {self.url} sent an unexpected {what}: {exc}"
            ) from None


def _translate_status(response: httpx.Response, *, where: str, what: str) -> Exception:
    status = response.status_code
    message = response.reason_phrase
    try:
        body = response.json()
        if isinstance(body, dict) and (body.get("message") or body.get("error")):
            message = str(body.get("message") or body.get("error"))
    except ValueError:
        if response.text.strip():
            message = response.text.strip()[:300]
    if status == 401:
        return ConnectorAuthError(
            f"{where} refused the token ({what}: {message}); check ARGOCD_TOKEN"
        )
    if status == 403:
        return ConnectorForbidden(
            f"{where} denied the request ({what}: {message}): the application may not exist, "
            "or the token's account lacks permission for it in its project's RBAC"
        )
    if status == 404:
        return ConnectorNotFound(f"{where}: not found ({what}: {message})")
    if status >= 500 and status != 501:
        return ConnectorUnavailable(f"{where} failed ({what}: {status} {message})")
    return ConnectorRequestError(f"{where} rejected the request ({what}: {status} {message})")
