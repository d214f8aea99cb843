"""Argo CD tools: application status, sync, rollback to a history id."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mission_control.connectors import MISSING_SETTINGS
from mission_control.connectors.argocd import ArgoApplication, ArgoCDConnector
from mission_control.connectors.errors import ConnectorNotConfigured
from mission_control.runs.policy import sync_risk
from mission_control.tools.base import RiskLevel, Tool, ToolContext, ToolOutput
from mission_control.tools.formatting import table

__all__ = ["ARGOCD_TOOLS"]

AppName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)
]
_NAME_HELP = "The Argo CD application's name."
_HISTORY_SHOWN = 10


def _argocd(ctx: ToolContext) -> ArgoCDConnector:
    if ctx.connectors.argocd is None:
        raise ConnectorNotConfigured(f"Argo CD is not configured: {MISSING_SETTINGS['argocd']}")
    return ctx.connectors.argocd


def _short(revision: str | None) -> str:
    # Git SHAs are unreadable in full; Helm chart versions are short already.
    if revision and len(revision) == 40 and all(c in "0123456789abcdef" for c in revision):
        return revision[:8]
    return revision or "-"


def render_status(app: ArgoApplication) -> str:
    """The application's state as a few ``key: value`` lines and two small tables."""
    lines = [
        f"application: {app.name}  project: {app.project}",
        f"source: {app.repo_url or '-'} path {app.path or '-'} at {app.target_revision}",
        f"destination: {app.destination_server or '-'} "
        f"namespace {app.destination_namespace or '-'}",
        f"sync: {app.sync_status}  revision: {_short(app.sync_revision)}  "
        f"auto-sync: {'on' if app.automated_sync else 'off'}",
        f"health: {app.health_status}" + (f" ({app.health_message})" if app.health_message else ""),
    ]
    if app.conditions:
        lines.append("conditions:")
        for c in app.conditions:
            when = f" {c.last_transition_time}" if c.last_transition_time else ""
            lines.append(f"  {c.type}{when}: {c.message}")
    else:
        lines.append("conditions: none")
    op = app.operation
    if op is None:
        lines.append("last operation: none")
    else:
        lines.append(
            f"last operation: {op.phase} revision {_short(op.revision)} started "
            f"{op.started_at or '-'} finished {op.finished_at or '-'}"
            + (f": {op.message}" if op.message else "")
        )
    history = sorted(app.history, key=lambda h: h.id, reverse=True)[:_HISTORY_SHOWN]
    lines.append("history (newest first; a rollback names the ID):")
    lines.append(
        table(
            ["ID", "REVISION", "DEPLOYED"],
            [[h.id, _short(h.revision), h.deployed_at] for h in history],
            empty="  no deployments yet",
        )
    )
    return "\n".join(lines)


class AppArgs(BaseModel):
    """Which application."""

    model_config = ConfigDict(extra="forbid")

    name: AppName = Field(description=_NAME_HELP)


async def _status(args: AppArgs, ctx: ToolContext) -> ToolOutput:
    app = await _argocd(ctx).get_application(args.name)
    return ToolOutput(text=render_status(app), raw=asdict(app))


class SyncAppArgs(BaseModel):
    """Which application to sync, and how."""

    model_config = ConfigDict(extra="forbid")

    name: AppName = Field(description=_NAME_HELP)
    revision: str | None = Field(
        default=None,
        max_length=255,
        pattern=r"^\S+$",
        description="Git revision (branch, tag, SHA) or chart version; default: the target.",
    )
    prune: bool = Field(default=False, description="Also delete resources no longer in the source.")


async def _sync_risk(args: SyncAppArgs, ctx: ToolContext) -> RiskLevel:
    """SAFE_MUTATE for a sync of the application's own target revision without prune; another
    revision or ``prune`` makes it DESTRUCTIVE (held for approval by the default policy)."""
    arguments = args.model_dump(exclude_none=True)
    target = None
    if args.revision is not None and not args.prune:
        target = (await _argocd(ctx).get_application(args.name)).target_revision
    return RiskLevel(sync_risk(arguments, target_revision=target))


async def _preview_sync(args: SyncAppArgs, ctx: ToolContext) -> str:
    app = await _argocd(ctx).get_application(args.name)
    revision = args.revision or app.target_revision
    busy = app.operation is not None and app.operation.phase == "Running"
    return (
        f"would sync application {app.name} to {revision} (prune {str(args.prune).lower()}): "
        f"now {app.sync_status} at {_short(app.sync_revision)}, health {app.health_status}"
        + ("; an operation is already running, so Argo CD would refuse" if busy else "")
    )


async def _sync(args: SyncAppArgs, ctx: ToolContext) -> ToolOutput:
    app = await _argocd(ctx).sync_application(
        args.name, revision=args.revision, prune=args.prune, dry_run=False
    )
    revision = args.revision or app.target_revision
    text = (
        f"sync of application {app.name} requested (revision {revision}, "
        f"prune {str(args.prune).lower()}); it runs asynchronously, check it with "
        f"get_argocd_app_status. Before the sync: {app.sync_status}, health {app.health_status}."
    )
    return ToolOutput(text=text, raw=asdict(app))


class RollbackAppArgs(BaseModel):
    """Which application to roll back, and to which deployment."""

    model_config = ConfigDict(extra="forbid")

    name: AppName = Field(description=_NAME_HELP)
    history_id: int = Field(
        ge=0, description="The deployment history ID to return to (see get_argocd_app_status)."
    )
    prune: bool = Field(default=False, description="Also delete resources not in that deployment.")


async def _preview_rollback(args: RollbackAppArgs, ctx: ToolContext) -> str:
    app = await _argocd(ctx).get_application(args.name)
    target = next((h for h in app.history if h.id == args.history_id), None)
    if target is None:
        known = ", ".join(str(h.id) for h in app.history) or "none"
        return (
            f"would fail: application {app.name} has no history id {args.history_id} "
            f"(known ids: {known})"
        )
    text = (
        f"would roll back application {app.name} from {_short(app.sync_revision)} to history id "
        f"{target.id} (revision {_short(target.revision)}, deployed {target.deployed_at or '-'}), "
        f"prune {str(args.prune).lower()}"
    )
    if app.automated_sync:
        text += "; auto-sync is on, so Argo CD would refuse the rollback until it is turned off"
    return text


async def _rollback(args: RollbackAppArgs, ctx: ToolContext) -> ToolOutput:
    app = await _argocd(ctx).rollback_application(
        args.name, history_id=args.history_id, prune=args.prune, dry_run=False
    )
    text = (
        f"rollback of application {app.name} to history id {args.history_id} requested; it runs "
        "asynchronously, check it with get_argocd_app_status."
    )
    return ToolOutput(text=text, raw=asdict(app))


ARGOCD_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="get_argocd_app_status",
        description=(
            "Show an Argo CD application's sync status and revision, health, conditions "
            "(errors and warnings), the last sync operation, and its deployment history IDs."
        ),
        arguments=AppArgs,
        risk=RiskLevel.READ_ONLY,
        connector="argocd",
        run=_status,
        timeout_seconds=30,
    ),
    Tool(
        name="argocd_sync_app",
        description=(
            "Start a sync of an Argo CD application to its target revision (or the given one). "
            "Returns at once; the sync runs in Argo CD. prune=true also deletes resources "
            "removed from the source."
        ),
        arguments=SyncAppArgs,
        risk=RiskLevel.SAFE_MUTATE,
        connector="argocd",
        run=_sync,
        preview=_preview_sync,
        risk_of_call=_sync_risk,
        timeout_seconds=30,
        outcome_check="check the application's last operation (get_argocd_app_status)",
    ),
    Tool(
        name="argocd_rollback_app",
        description=(
            "Roll an Argo CD application back to an earlier deployment, named by its history "
            "ID from get_argocd_app_status. Argo CD refuses while auto-sync is enabled."
        ),
        arguments=RollbackAppArgs,
        risk=RiskLevel.DESTRUCTIVE,
        connector="argocd",
        run=_rollback,
        preview=_preview_rollback,
        timeout_seconds=30,
        outcome_check="check the application's last operation (get_argocd_app_status)",
    ),
)
