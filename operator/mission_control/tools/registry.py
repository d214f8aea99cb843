"""The registry of every tool, and which of them the configured connectors can serve.

The registry is built once from the tool modules (names are unique; risk is fixed in each
tool's definition). A tool whose connector is not configured is not offered to the model;
:meth:`ToolRegistry.unavailable` says why, naming the setting to add.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from mission_control.connectors import Connectors
from mission_control.connectors.errors import ConnectorOutcomeUnknown, ConnectorUnavailable
from mission_control.errors import PermanentError
from mission_control.tools.argocd import ARGOCD_TOOLS
from mission_control.tools.base import (
    MISSING_BACKEND_SETTINGS,
    RiskLevel,
    Tool,
    ToolContext,
    ToolOutcomeUnknown,
    ToolOutput,
)
from mission_control.tools.inventory import INVENTORY_TOOLS
from mission_control.tools.kubernetes import KUBERNETES_TOOLS
from mission_control.tools.prometheus import PROMETHEUS_TOOLS
from mission_control.tools.proxmox import PROXMOX_TOOLS

if TYPE_CHECKING:
    from mission_control.inventory import Inventory

__all__ = [
    "ALL_TOOLS",
    "ToolAvailability",
    "ToolRegistry",
    "UnknownTool",
    "call_risk",
    "default_registry",
    "invoke",
    "preview",
]

ALL_TOOLS: tuple[Tool[Any], ...] = (
    *KUBERNETES_TOOLS,
    *PROXMOX_TOOLS,
    *ARGOCD_TOOLS,
    *PROMETHEUS_TOOLS,
    *INVENTORY_TOOLS,
)


class UnknownTool(PermanentError):
    """No tool of that name is registered (a typo in a Task, or a model inventing one)."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        super().__init__(f"unknown tool {name!r}; registered tools: {', '.join(sorted(known))}")


@dataclass(frozen=True, kw_only=True)
class ToolAvailability:
    """Whether a tool can run with the configured connectors, and if not, what to set."""

    name: str
    available: bool
    reason: str | None = None


class ToolRegistry:
    """An immutable set of tools, looked up by name."""

    def __init__(self, tools: Iterable[Tool[Any]]) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"two tools are named {tool.name}")
            self._tools[tool.name] = tool

    def __iter__(self) -> Iterator[Tool[Any]]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool[Any]:
        try:
            return self._tools[name]
        except KeyError:
            raise UnknownTool(name, self._tools) from None

    def availability(
        self, connectors: Connectors, *, inventory: Inventory | None = None
    ) -> Mapping[str, ToolAvailability]:
        """Every tool with whether its connector (or the inventory) is configured."""
        result = {}
        for tool in self._tools.values():
            if tool.connector == "inventory":
                configured = inventory is not None
            else:
                configured = getattr(connectors, tool.connector) is not None
            result[tool.name] = ToolAvailability(
                name=tool.name,
                available=configured,
                reason=None
                if configured
                else f"{tool.name} needs {tool.connector}: "
                f"{MISSING_BACKEND_SETTINGS[tool.connector]}",
            )
        return result

    def available(
        self, connectors: Connectors, *, inventory: Inventory | None = None
    ) -> list[Tool[Any]]:
        """The tools that can be offered to the model."""
        ready = self.availability(connectors, inventory=inventory)
        return [tool for tool in self._tools.values() if ready[tool.name].available]

    def unavailable(
        self, connectors: Connectors, *, inventory: Inventory | None = None
    ) -> dict[str, str]:
        """Tool name -> the reason it cannot run (naming the missing setting)."""
        return {
            name: state.reason or ""
            for name, state in self.availability(connectors, inventory=inventory).items()
            if not state.available
        }


@cache
def default_registry() -> ToolRegistry:
    """The registry of all sixteen tools."""
    return ToolRegistry(ALL_TOOLS)


async def invoke(tool: Tool[Any], raw_arguments: Any, ctx: ToolContext) -> ToolOutput:
    """Validate the arguments (before any I/O), then run the tool within its timeout."""
    args = tool.parse_arguments(raw_arguments)
    try:
        async with asyncio.timeout(tool.timeout_seconds):
            return await tool.run(args, ctx)
    except ConnectorOutcomeUnknown as exc:
        # The connector saw the change leave and no answer come back (see connectors.errors).
        raise ToolOutcomeUnknown(f"{tool.name}: outcome unknown: {exc}") from None
    except TimeoutError:
        if tool.risk.mutates:
            raise ToolOutcomeUnknown(
                f"{tool.name} did not finish within {tool.timeout_seconds:g}s; it may still "
                f"take effect: {tool.outcome_check or 'check the current state'} before "
                "trying again"
            ) from None
        raise ConnectorUnavailable(
            f"{tool.name} did not finish within {tool.timeout_seconds:g}s"
        ) from None


_RISK_ORDER = (RiskLevel.READ_ONLY, RiskLevel.SAFE_MUTATE, RiskLevel.DESTRUCTIVE)


async def call_risk(tool: Tool[Any], raw_arguments: Any, ctx: ToolContext) -> RiskLevel:
    """The risk of this call, decided in code: the tool's own risk, raised by arguments that
    widen what the call does (``argocd_sync_app`` with ``prune`` or another revision).

    The policy decides on this, never on anything the model says. Validates the arguments.
    """
    if tool.risk_of_call is None:
        return tool.risk
    args = tool.parse_arguments(raw_arguments)
    try:
        async with asyncio.timeout(tool.timeout_seconds):
            risk = await tool.risk_of_call(args, ctx)
    except TimeoutError:
        raise ConnectorUnavailable(
            f"the risk of {tool.name} could not be assessed within {tool.timeout_seconds:g}s"
        ) from None
    return max(risk, tool.risk, key=_RISK_ORDER.index)


async def preview(tool: Tool[Any], raw_arguments: Any, ctx: ToolContext) -> str:
    """What a mutating call would do (dry runs); validates the arguments first."""
    if tool.preview is None:
        raise ValueError(f"{tool.name} is read-only and has nothing to preview")
    args = tool.parse_arguments(raw_arguments)
    try:
        async with asyncio.timeout(tool.timeout_seconds):
            return await tool.preview(args, ctx)
    except TimeoutError:
        raise ConnectorUnavailable(
            f"the preview of {tool.name} did not finish within {tool.timeout_seconds:g}s"
        ) from None
