"""Proxmox VE tools: list VMs and LXC containers on all nodes, reboot one LXC."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mission_control.connectors import MISSING_SETTINGS
from mission_control.connectors.errors import ConnectorNotConfigured
from mission_control.connectors.proxmox import GuestKind, ProxmoxConnector, ProxmoxGuest
from mission_control.tools.base import RiskLevel, Tool, ToolContext, ToolOutput
from mission_control.tools.formatting import human_bytes, human_duration, percent, table

__all__ = ["PROXMOX_TOOLS"]

NodeName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$", max_length=63)
]


def _proxmox(ctx: ToolContext) -> ProxmoxConnector:
    if ctx.connectors.proxmox is None:
        raise ConnectorNotConfigured(f"Proxmox VE is not configured: {MISSING_SETTINGS['proxmox']}")
    return ctx.connectors.proxmox


class ListProxmoxGuestsArgs(BaseModel):
    """Filters for listing guests; all optional."""

    model_config = ConfigDict(extra="forbid")

    node: NodeName | None = Field(default=None, description="Only guests on this Proxmox node.")
    status: Literal["running", "stopped", "paused"] | None = Field(
        default=None, description="Only guests in this state."
    )
    name_contains: str | None = Field(
        default=None, max_length=100, description="Only guests whose name contains this text."
    )


def _guest_rows(guests: list[ProxmoxGuest]) -> list[list[object]]:
    return [
        [
            g.vmid,
            g.name,
            g.node,
            "template" if g.template else g.status,
            f"{percent(g.cpu)} of {g.max_cpu}" if g.max_cpu else "-",
            f"{human_bytes(g.memory_bytes)}/{human_bytes(g.max_memory_bytes)}",
            human_duration(g.uptime_seconds),
        ]
        for g in guests
    ]


def _list_guests(
    kind: GuestKind, label: str
) -> Callable[[ListProxmoxGuestsArgs, ToolContext], Awaitable[ToolOutput]]:
    async def run(args: ListProxmoxGuestsArgs, ctx: ToolContext) -> ToolOutput:
        guests = [
            g
            for g in await _proxmox(ctx).list_guests(kind)
            if (args.node is None or g.node == args.node)
            and (args.status is None or g.status == args.status)
            and (args.name_contains is None or args.name_contains.lower() in g.name.lower())
        ]
        text = table(
            ["VMID", "NAME", "NODE", "STATUS", "CPU", "MEMORY", "UPTIME"],
            _guest_rows(guests),
            empty=f"no {label} match",
        )
        return ToolOutput(text=text, raw=[asdict(g) for g in guests])

    return run


class RestartProxmoxLxcArgs(BaseModel):
    """Which LXC container to reboot."""

    model_config = ConfigDict(extra="forbid")

    vmid: int = Field(ge=100, le=999_999_999, description="The container's numeric id (vmid).")
    node: NodeName | None = Field(
        default=None, description="The node it runs on; looked up when omitted."
    )


async def _locate(args: RestartProxmoxLxcArgs, ctx: ToolContext) -> ProxmoxGuest:
    return await _proxmox(ctx).find_lxc(vmid=args.vmid, node=args.node)


def _describe(guest: ProxmoxGuest) -> str:
    named = f" ({guest.name})" if guest.name else ""
    return f"LXC {guest.vmid}{named} on node {guest.node}"


async def _preview_restart(args: RestartProxmoxLxcArgs, ctx: ToolContext) -> str:
    guest = await _locate(args, ctx)
    state = f"now {guest.status}"
    if guest.status == "running":
        state += f", up {human_duration(guest.uptime_seconds)}"
    else:
        state += "; Proxmox only reboots running containers, so the reboot would fail"
    return f"would reboot {_describe(guest)}: {state}"


async def _restart(args: RestartProxmoxLxcArgs, ctx: ToolContext) -> ToolOutput:
    connector = _proxmox(ctx)
    node = args.node
    what = f"LXC {args.vmid} on node {node}"
    if node is None:
        guest = await connector.find_lxc(vmid=args.vmid, node=None)
        node, what = guest.node, _describe(guest)
    upid = await connector.reboot_lxc(node=node, vmid=args.vmid)
    raw: dict[str, Any] = {"node": node, "vmid": args.vmid, "upid": upid}
    return ToolOutput(text=f"reboot of {what} started; Proxmox task id {upid}", raw=raw)


PROXMOX_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="list_proxmox_vms",
        description=(
            "List QEMU virtual machines on all Proxmox VE nodes: vmid, name, node, status, "
            "CPU use, memory used/maximum and uptime. Optional filters: node, status, name."
        ),
        arguments=ListProxmoxGuestsArgs,
        risk=RiskLevel.READ_ONLY,
        connector="proxmox",
        run=_list_guests("qemu", "virtual machines"),
        timeout_seconds=30,
    ),
    Tool(
        name="list_proxmox_lxcs",
        description=(
            "List LXC containers on all Proxmox VE nodes: vmid, name, node, status, CPU use, "
            "memory used/maximum and uptime. Optional filters: node, status, name."
        ),
        arguments=ListProxmoxGuestsArgs,
        risk=RiskLevel.READ_ONLY,
        connector="proxmox",
        run=_list_guests("lxc", "LXC containers"),
        timeout_seconds=30,
    ),
    Tool(
        name="restart_proxmox_lxc",
        description=(
            "Reboot one running LXC container on Proxmox VE (a clean reboot from inside, like "
            "'pct reboot'). Returns the Proxmox task id (UPID) of the reboot. Give the vmid; "
            "the node is looked up when omitted."
        ),
        arguments=RestartProxmoxLxcArgs,
        risk=RiskLevel.SAFE_MUTATE,
        connector="proxmox",
        run=_restart,
        preview=_preview_restart,
        timeout_seconds=60,
        outcome_check="check the container's uptime (list_proxmox_lxcs) and the node's task log",
    ),
)
