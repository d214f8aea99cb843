"""A trigger's objects as the service reads and writes them: parsed runs, status entries.

Small translations between the raw JSON objects of the Kubernetes API and the values of
:mod:`mission_control.runs.triggers`; no I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from mission_control.resources.tasktrigger import TaskTriggerStatus, TriggerCounts
from mission_control.runs.triggers import OwnedRun, TriggerRef

__all__ = [
    "Reception",
    "counts_entry",
    "owned_run",
    "parse_time",
    "run_entry",
    "stamp",
    "trigger_ref",
    "trigger_status",
]

log = logging.getLogger(__name__)


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def owned_run(raw: Mapping[str, Any]) -> OwnedRun:
    metadata = raw.get("metadata") or {}
    status = raw.get("status") or {}
    succeeded: Any = "Unknown"
    for condition in status.get("conditions") or ():
        if isinstance(condition, dict) and condition.get("type") == "Succeeded":
            succeeded = condition.get("status")
    return OwnedRun(
        name=str(metadata.get("name")),
        uid=str(metadata.get("uid")),
        created_at=parse_time(metadata.get("creationTimestamp")) or datetime.min,
        succeeded=succeeded if succeeded in ("True", "False") else "Unknown",
        finished_at=parse_time(status.get("completionTime")),
    )


def trigger_ref(raw: Mapping[str, Any]) -> TriggerRef:
    metadata = raw["metadata"]
    return TriggerRef(
        namespace=str(metadata["namespace"]),
        name=str(metadata["name"]),
        uid=str(metadata["uid"]),
        labels={str(key): str(value) for key, value in (metadata.get("labels") or {}).items()},
    )


def run_entry(run: OwnedRun) -> dict[str, str]:
    return {"name": run.name, "uid": run.uid, "succeeded": run.succeeded}


@dataclass
class Reception:
    """What one notification did: run names started, and how many alerts went which way."""

    started: list[str] = field(default_factory=list)
    deduplicated: int = 0
    skipped: int = 0
    ignored: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "deduplicated": self.deduplicated,
            "skipped": self.skipped,
            "ignored": self.ignored,
            "refused": self.refused,
        }


def trigger_status(raw: Mapping[str, Any]) -> TaskTriggerStatus:
    try:
        return TaskTriggerStatus.model_validate(raw.get("status") or {})
    except ValidationError as exc:
        log.warning("tasktrigger status does not parse, starting afresh: %s", exc)
        return TaskTriggerStatus()


def counts_entry(counts: TriggerCounts) -> dict[str, int]:
    # Every field, even zeros: the merge patch replaces what the status holds.
    return counts.model_dump(mode="json")
