"""Helpers shared by the tool tests."""

from __future__ import annotations

from typing import Any

from mission_control.connectors import Connectors
from mission_control.tools.base import ToolContext


def context_with(**connectors: Any) -> ToolContext:
    """A tool context holding only the given connectors, e.g. ``context_with(argocd=c)``."""
    return ToolContext(connectors=Connectors(**connectors))
