"""The ``get_inventory`` tool: the merged inventory, filtered."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mission_control.connectors.errors import ConnectorNotConfigured
from mission_control.inventory import InventoryItem, InventorySnapshot, ItemKind, SourceName
from mission_control.tools.base import (
    MISSING_BACKEND_SETTINGS,
    RiskLevel,
    Tool,
    ToolContext,
    ToolOutput,
)
from mission_control.tools.formatting import table

__all__ = ["INVENTORY_TOOLS"]


class InventoryArgs(BaseModel):
    """Filters; all optional and combined with AND."""

    model_config = ConfigDict(extra="forbid")

    kind: ItemKind | None = Field(default=None, description="host, workload or service.")
    source: SourceName | None = Field(
        default=None, description="Where the item comes from: kubernetes, proxmox, argocd..."
    )
    name: str | None = Field(
        default=None, max_length=200, description="Text the item's id or name contains."
    )
    tag: str | None = Field(default=None, max_length=100, description="A tag it carries.")


def _matches(item: InventoryItem, args: InventoryArgs) -> bool:
    if args.kind is not None and item.kind != args.kind:
        return False
    if args.source is not None and item.source != args.source:
        return False
    if args.name is not None and args.name.lower() not in f"{item.id} {item.name}".lower():
        return False
    return args.tag is None or args.tag in item.tags


def _status(item: InventoryItem) -> str:
    status = item.live.get("status")
    return str(status) if status is not None else "-"


def _detail(item: InventoryItem) -> str:
    lines = [
        f"{key}: {value}" for key, value in item.to_json().items() if value not in (None, [], {})
    ]
    return "\n".join(lines)


def _render(snapshot: InventorySnapshot, items: list[InventoryItem]) -> str:
    stale = [s for s in snapshot.sources if s.stale]
    notes = [
        f"note: {s.source} is stale (last good data {s.last_success or 'never'}): {s.error}"
        for s in stale
    ]
    if len(items) == 1:
        body = _detail(items[0])
    else:
        rows = [
            [
                item.id,
                item.kind,
                _status(item),
                item.owner,
                ",".join(item.tags),
                ",".join(item.services or item.members),
                "stale" if item.stale else "",
            ]
            for item in items
        ]
        body = table(
            ["ID", "KIND", "STATUS", "OWNER", "TAGS", "SERVICES/MEMBERS", "STALE"],
            rows,
            empty="no inventory items match",
        )
    return "\n".join([body, *notes])


async def _get_inventory(args: InventoryArgs, ctx: ToolContext) -> ToolOutput:
    inventory = ctx.inventory
    if inventory is None:
        raise ConnectorNotConfigured(
            f"the inventory has no source: {MISSING_BACKEND_SETTINGS['inventory']}"
        )
    snapshot = await inventory.current()
    items = [item for item in snapshot.items if _matches(item, args)]
    return ToolOutput(text=_render(snapshot, items), raw=[item.to_json() for item in items])


INVENTORY_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="get_inventory",
        description=(
            "List the merged inventory: hosts (Kubernetes and Proxmox nodes), workloads "
            "(deployments, statefulsets, daemonsets, VMs, LXC containers) and services (Argo CD "
            "applications and configured groupings) with status, owner, tags and membership. "
            "Filter by kind, source, name text or tag; a single match is shown in full."
        ),
        arguments=InventoryArgs,
        risk=RiskLevel.READ_ONLY,
        connector="inventory",
        run=_get_inventory,
        timeout_seconds=60,
    ),
)
