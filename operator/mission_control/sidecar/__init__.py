"""The read-only HTTP API: runs, their journal, inventory, tasks and usage, and SSE streams.

Contract: the only package that imports an HTTP server library (FastAPI, Starlette, uvicorn,
sse-starlette). It reads PostgreSQL through the store, as a role granted SELECT only, and the
Kubernetes API through the connector; it never changes a run, a tool call or a Kubernetes
object. Every route is GET; everything but ``/api/v1/health`` needs a bearer token
(:mod:`.auth`); the event stream (:mod:`.stream`) fans one ``LISTEN`` connection out to every
client (:mod:`.fanout`). ``/ui/`` serves a read-only web view over the same API
(:mod:`.webui`). See ``docs/architecture.md``.
"""

from mission_control.sidecar.app import create_app
from mission_control.sidecar.auth import Authenticator, AuthFailed, Caller
from mission_control.sidecar.fanout import EventHub
from mission_control.sidecar.serve import build_services, check_sidecar_settings, serve_sidecar
from mission_control.sidecar.services import SidecarServices

__all__ = [
    "AuthFailed",
    "Authenticator",
    "Caller",
    "EventHub",
    "SidecarServices",
    "build_services",
    "check_sidecar_settings",
    "create_app",
    "serve_sidecar",
]
