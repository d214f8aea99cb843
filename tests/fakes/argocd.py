"""An Argo CD API double: ``/api/v1/applications...`` behind a bearer token.

Errors look like Argo CD's gRPC gateway: ``{"error": ..., "code": GRPC_CODE, "message": ...}``.
A missing application answers 403 "permission denied" (Argo CD does not tell a missing
application from one the account may not see). Sync and rollback record an operation and
return the application, as the real server does; the operation itself never runs here.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import FakeServer, RecordedRequest, Reply

__all__ = ["FakeArgoCD", "application"]


def application(
    name: str,
    *,
    sync: str = "Synced",
    health: str = "Healthy",
    revision: str = "4f3c2a1b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
    automated: bool = False,
    history: list[tuple[int, str]] | None = None,
    conditions: list[dict[str, str]] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An Application as ``GET /api/v1/applications/NAME`` returns it (trimmed)."""
    spec: dict[str, Any] = {
        "project": "default",
        "source": {
            "repoURL": "https://git.example.lan/homelab/apps.git",
            "path": f"apps/{name}",
            "targetRevision": "main",
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
    }
    if automated:
        spec["syncPolicy"] = {"automated": {"prune": True, "selfHeal": True}}
    app: dict[str, Any] = {
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "uid": f"uid-{name}",
            "resourceVersion": "1001",
            "labels": labels or {},
        },
        "spec": spec,
        "status": {
            "sync": {
                "status": sync,
                "revision": revision,
                "comparedTo": {"source": spec["source"], "destination": spec["destination"]},
            },
            "health": {"status": health},
            "history": [
                {
                    "id": hid,
                    "revision": rev,
                    "deployedAt": f"2024-05-0{hid + 1}T10:00:00Z",
                    "deployStartedAt": f"2024-05-0{hid + 1}T09:59:50Z",
                    "source": spec["source"],
                }
                for hid, rev in (history or [])
            ],
            "reconciledAt": "2024-05-10T10:00:00Z",
            "operationState": {
                "operation": {"sync": {"revision": revision}},
                "phase": "Succeeded",
                "message": "successfully synced (all tasks run)",
                "startedAt": "2024-05-10T09:59:00Z",
                "finishedAt": "2024-05-10T09:59:30Z",
                "syncResult": {"revision": revision},
            },
            "resources": [],
            "summary": {"images": [f"registry.lan/{name}:1.0"]},
        },
    }
    if conditions:
        app["status"]["conditions"] = conditions
    return app


def _grpc_error(status: int, code: int, message: str) -> Reply:
    return Reply(status, {"error": message, "code": code, "message": message})


@dataclass
class FakeArgoCD:
    """State and routes of the fake; ``apps`` maps names to Application JSON."""

    token: str = "argocd-token-0123456789"
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Application names the token's account may not see (403 like a missing one).
    hidden: set[str] = field(default_factory=set)
    server: FakeServer = field(default_factory=FakeServer)

    def __post_init__(self) -> None:
        app = r"/api/v1/applications/([^/]+)"
        for method, pattern, handler in [
            ("GET", "/api/v1/session/userinfo", self._userinfo),
            ("GET", "/api/v1/applications", self._list),
            ("GET", app, self._get),
            ("POST", app + "/sync", self._sync),
            ("POST", app + "/rollback", self._rollback),
        ]:
            self.server.route(method, pattern, self._authenticated(handler))

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> FakeArgoCD:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def _authenticated(self, handler: Any) -> Any:
        def check(request: RecordedRequest, match: re.Match[str]) -> Reply:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return _grpc_error(401, 16, "invalid session: token signature is invalid")
            return handler(request, match)

        return check

    def _app(self, name: str) -> dict[str, Any] | None:
        return None if name in self.hidden else self.apps.get(name)

    def _userinfo(self, request: RecordedRequest, match: re.Match[str]) -> Reply:
        return Reply(200, {"loggedIn": True, "username": "mission-control", "iss": "argocd"})

    def _list(self, request: RecordedRequest, match: re.Match[str]) -> Reply:
        visible = [copy.deepcopy(a) for n, a in sorted(self.apps.items()) if n not in self.hidden]
        # Argo CD sends null, not [], when there is nothing to list.
        return Reply(200, {"metadata": {"resourceVersion": "1001"}, "items": visible or None})

    def _get(self, request: RecordedRequest, match: re.Match[str]) -> Reply:
        app = self._app(match.group(1))
        if app is None:
            return _grpc_error(403, 7, "permission denied")
        return Reply(200, app)

    def _start(self, app: dict[str, Any], operation: dict[str, Any]) -> Reply:
        state = app["status"].get("operationState") or {}
        if app.get("operation") is not None or state.get("phase") == "Running":
            return _grpc_error(400, 9, "another operation is already in progress")
        app["operation"] = operation
        return Reply(200, copy.deepcopy(app))

    def _sync(self, request: RecordedRequest, match: re.Match[str]) -> Reply:
        app = self._app(match.group(1))
        if app is None:
            return _grpc_error(403, 7, "permission denied")
        body = request.json()
        sync = {"revision": body.get("revision", ""), "prune": body.get("prune", False)}
        if body.get("dryRun"):
            sync["dryRun"] = True
        return self._start(app, {"sync": sync, "initiatedBy": {"username": "mission-control"}})

    def _rollback(self, request: RecordedRequest, match: re.Match[str]) -> Reply:
        name = match.group(1)
        app = self._app(name)
        if app is None:
            return _grpc_error(403, 7, "permission denied")
        body = request.json()
        if app["spec"].get("syncPolicy", {}).get("automated") is not None and not body.get(
            "dryRun"
        ):
            return _grpc_error(400, 9, "rollback cannot be initiated when auto-sync is enabled")
        entry = next((h for h in app["status"]["history"] if h["id"] == int(body["id"])), None)
        if entry is None:
            return _grpc_error(
                400, 3, f"application {name} does not have deployment with id {body['id']}"
            )
        operation = {"sync": {"revision": entry["revision"], "prune": body.get("prune", False)}}
        return self._start(app, operation)
