"""Tools the agent can call: Kubernetes, Proxmox VE, Argo CD, Prometheus and the inventory.

:mod:`.base` defines a tool; each tool module defines its tools over one connector;
:mod:`.registry` gathers them and says which are available. Tools never talk to a system
except through a connector from the call's :class:`~mission_control.tools.base.ToolContext`.
"""

from mission_control.tools.base import (
    InvalidToolArguments,
    RiskLevel,
    Tool,
    ToolContext,
    ToolOutcomeUnknown,
    ToolOutput,
)
from mission_control.tools.registry import (
    ALL_TOOLS,
    ToolAvailability,
    ToolRegistry,
    UnknownTool,
    default_registry,
    invoke,
    preview,
)

__all__ = [
    "ALL_TOOLS",
    "InvalidToolArguments",
    "RiskLevel",
    "Tool",
    "ToolAvailability",
    "ToolContext",
    "ToolOutcomeUnknown",
    "ToolOutput",
    "ToolRegistry",
    "UnknownTool",
    "default_registry",
    "invoke",
    "preview",
]
