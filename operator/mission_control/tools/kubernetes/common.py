"""What every Kubernetes tool shares: argument types, the connector lookup, table helpers.

Pure: no I/O happens here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mission_control.connectors import MISSING_SETTINGS
from mission_control.connectors.errors import ConnectorNotConfigured
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.errors import PermanentError
from mission_control.tools.base import ToolContext
from mission_control.tools.formatting import MAX_ROWS, human_duration, table

__all__ = [
    "ContainerName",
    "Kind",
    "KubernetesToolError",
    "Namespace",
    "NamespacedArgs",
    "ObjectName",
    "age",
    "kubernetes",
    "table_with_notes",
    "target_namespace",
]

#: Bound of a free-text note (event message, why a container waits) in a table row.
NOTE_LIMIT = 300

Namespace = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
]
ObjectName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253),
]
ContainerName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
]
Kind = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]*$", max_length=63)]


class KubernetesToolError(PermanentError):
    """The call cannot be done as asked (e.g. restarting a paused deployment)."""


def kubernetes(ctx: ToolContext) -> KubernetesConnector:
    """The configured connector, or an error naming the setting that enables it."""
    if ctx.connectors.kubernetes is None:
        raise ConnectorNotConfigured(
            f"Kubernetes is not configured: {MISSING_SETTINGS['kubernetes']}"
        )
    return ctx.connectors.kubernetes


def age(moment: datetime | None, *, now: datetime) -> str:
    """How long ago ``moment`` was, as kubectl prints ages (``5m3s``, ``2d4h``)."""
    if moment is None:
        return "-"
    # At least 1s: a zero (or, with clock skew, negative) age would print as "-".
    return human_duration(max(1.0, (now - moment).total_seconds()))


def table_with_notes(
    headers: list[str], rows: list[list[object]], *, notes: list[str], empty: str
) -> str:
    """A table plus a last free-text column that is not cut to the table's cell width.

    Event messages and container reasons are what a diagnosis hinges on, so they get up to
    ``NOTE_LIMIT`` characters; being last, they need no padding.
    """
    text = table(headers[:-1], rows, empty=empty)
    if not rows:
        return text
    lines = text.splitlines()
    shown = min(len(rows), MAX_ROWS) + 1  # the header and the rows table() kept
    width = max(len(line) for line in lines[:shown])
    cells = [headers[-1], *(" ".join(note.split())[:NOTE_LIMIT] or "-" for note in notes)]
    body = [
        f"{line.ljust(width)}  {cell}" for line, cell in zip(lines[:shown], cells, strict=False)
    ]
    return "\n".join(body + lines[shown:])


class NamespacedArgs(BaseModel):
    """Arguments of every Kubernetes tool: the namespace it works in."""

    model_config = ConfigDict(extra="forbid")

    namespace: Namespace = Field(description="The Kubernetes namespace.")


def target_namespace(args: NamespacedArgs) -> str:
    """The namespace a call touches, for the policy's ``targetNamespaces`` check."""
    return args.namespace
