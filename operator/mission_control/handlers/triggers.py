"""TaskTriggers: their Ready condition, a daemon per scheduled trigger, and their runs' ends.

- Every event of a TaskTrigger judges it (:meth:`TriggerService.judge`).
- A scheduled, valid trigger has a daemon that handles the schedule at each tick
  (:meth:`TriggerService.tick`) and sleeps until the next one, waking at least every
  :data:`WAKE_SECONDS` to see a changed spec (suspend, a new cron).
- An alerting trigger not Ready for its token (``TokenMissing``, ``TokenForbidden``) is judged
  again every :data:`TOKEN_RECHECK_SECONDS`: creating the Secret or granting the agent its
  Role changes no trigger, so no event would clear the condition.
- An event of a TaskRun labelled ``missioncontrol.dev/trigger`` updates its trigger's active
  runs and prunes the history (:meth:`TriggerService.reconcile`).

Alerts arrive through :mod:`mission_control.triggers.receiver`, not through kopf.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from mission_control.errors import MissionControlError
from mission_control.resources.schemas.patterns import TRIGGER_LABEL
from mission_control.runs.schedule import InvalidSchedule
from mission_control.triggers.service import TriggerService

__all__ = ["TriggerHandlers", "is_scheduled", "is_waiting_for_token"]

log = logging.getLogger(__name__)

#: Longest sleep of a schedule's daemon: how soon a changed spec is seen.
WAKE_SECONDS = 5.0
#: Pause after a failed tick (the API server unreachable) before trying again.
RETRY_SECONDS = 5.0
#: How often a trigger waiting for its token is judged again (two reads each time).
TOKEN_RECHECK_SECONDS = 15.0
_TOKEN_REASONS = frozenset({"TokenMissing", "TokenForbidden"})


def is_scheduled(spec: Mapping[str, Any], **_: Any) -> bool:
    """kopf's filter of the schedule daemon."""
    return bool(spec.get("schedule"))


def is_waiting_for_token(spec: Mapping[str, Any], status: Mapping[str, Any], **_: Any) -> bool:
    """kopf's filter of the token re-check: an alerting trigger not Ready for its token."""
    if not spec.get("alert"):
        return False
    for condition in (status or {}).get("conditions") or ():
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            return condition.get("status") == "False" and condition.get("reason") in _TOKEN_REASONS
    return False


def _succeeded(body: Mapping[str, Any]) -> str:
    for condition in (body.get("status") or {}).get("conditions") or ():
        if isinstance(condition, dict) and condition.get("type") == "Succeeded":
            return str(condition.get("status"))
    return "Unknown"


class TriggerHandlers:
    """The handlers of TaskTriggers (registered by :mod:`.operator`)."""

    def __init__(self, service: TriggerService) -> None:
        self._service = service
        # Succeeded status last acted on per run uid: a run's progress events (each step
        # patches its status) change nothing for its trigger and cost no request.
        self._seen: dict[str, str] = {}

    async def on_event(self, *, type: str | None, body: Mapping[str, Any], **_: Any) -> None:
        """A TaskTrigger was listed, added, changed or deleted."""
        metadata = body.get("metadata") or {}
        if type == "DELETED":
            self._service.forget(str(metadata.get("namespace")), str(metadata.get("name")))
            return
        await self._service.judge(dict(body))
        if type is None:
            # At start: runs that ended while the operator was away, and the history.
            await self._service.reconcile(str(metadata["namespace"]), str(metadata["name"]))

    async def recheck_token(self, *, body: Mapping[str, Any], **_: Any) -> None:
        """Judge a trigger waiting for its token again (see the module doc)."""
        metadata = body.get("metadata") or {}
        try:
            await self._service.judge(dict(body))
        except MissionControlError as exc:
            log.warning(
                "tasktrigger %s/%s not judged again: %s",
                metadata.get("namespace"),
                metadata.get("name"),
                exc,
            )

    async def on_run_event(self, *, type: str | None, body: Mapping[str, Any], **_: Any) -> None:
        """A TaskRun of a trigger changed: its trigger's status and history."""
        metadata = body.get("metadata") or {}
        trigger = (metadata.get("labels") or {}).get(TRIGGER_LABEL)
        if not trigger:
            return
        uid = str(metadata.get("uid"))
        if type == "DELETED":
            self._seen.pop(uid, None)
            return  # pruned by us, or deleted by a person or its TTL: the next change updates
        succeeded = _succeeded(body)
        if self._seen.get(uid) == succeeded:
            return
        self._seen[uid] = succeeded
        try:
            await self._service.reconcile(str(metadata["namespace"]), str(trigger))
        except MissionControlError as exc:
            log.warning("tasktrigger %s/%s not updated: %s", metadata["namespace"], trigger, exc)

    async def schedule(
        self, *, body: Mapping[str, Any], stopped: kopf.DaemonStopped, **_: Any
    ) -> None:
        """The daemon of one scheduled trigger."""
        metadata = body["metadata"]
        namespace, name = str(metadata["namespace"]), str(metadata["name"])
        while not stopped:
            pause = WAKE_SECONDS
            try:
                decision = await self._service.tick(namespace, name)
            except InvalidSchedule:
                decision = None  # reported in Ready; wait for a corrected spec
            except MissionControlError as exc:
                log.warning("tasktrigger %s/%s: schedule not handled: %s", namespace, name, exc)
                decision, pause = None, RETRY_SECONDS
            if decision is not None:
                until = (decision.next_time - self._service.clock()).total_seconds()
                pause = min(max(until, 0.05), WAKE_SECONDS)
            await stopped.wait(pause)
