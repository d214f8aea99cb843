"""``ttlSecondsAfterFinished``: a finished TaskRun is deleted that long after it finished.

The journal in PostgreSQL stays; only the Kubernetes object goes. The watch handler
(:meth:`FinishedRuns.on_event`) sees every TaskRun (again after each operator start, as the
watch lists them), so a deletion is scheduled from the object alone: ``status.completionTime``
plus the TTL, a moment that may already be past. Nothing is stored to remember it.

A TaskRun that Argo CD manages (its tracking label or annotation) is never deleted this way:
Argo CD would create it again from Git and the work would run a second time. The operator says
so in an Event (once per operator start) instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from mission_control.connectors.kubernetes.custom import ObjectRef
from mission_control.errors import MissionControlError, TemporaryError
from mission_control.handlers.definitions import previous_condition
from mission_control.handlers.services import OperatorServices

__all__ = ["ARGOCD_TRACKING_ANNOTATION", "ARGOCD_TRACKING_LABEL", "FinishedRuns", "expires_at"]

log = logging.getLogger(__name__)

ARGOCD_TRACKING_LABEL = "app.kubernetes.io/instance"
ARGOCD_TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
#: Longest pause between attempts to delete while the API server is unavailable.
DELETE_PAUSE_MAX_SECONDS = 60.0


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def expires_at(body: Mapping[str, Any]) -> datetime | None:
    """When a finished TaskRun with a TTL is due for deletion; None if it has no TTL or has
    not finished."""
    ttl = (body.get("spec") or {}).get("ttlSecondsAfterFinished")
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        return None
    condition = previous_condition(body, "Succeeded")
    if condition is None or condition.status not in ("True", "False"):
        return None
    status = body.get("status") or {}
    finished = _timestamp(status.get("completionTime")) or condition.last_transition_time
    if finished is None:
        return None
    return finished + timedelta(seconds=ttl)


def argocd_managed(metadata: Mapping[str, Any]) -> str | None:
    """Which Argo CD tracking mark the object carries, or None."""
    if ARGOCD_TRACKING_ANNOTATION in (metadata.get("annotations") or {}):
        return f"annotation {ARGOCD_TRACKING_ANNOTATION}"
    if ARGOCD_TRACKING_LABEL in (metadata.get("labels") or {}):
        return f"label {ARGOCD_TRACKING_LABEL}"
    return None


class FinishedRuns:
    """Deletes finished TaskRuns when their TTL is up (see the module doc)."""

    def __init__(self, services: OperatorServices) -> None:
        self._services = services
        self._scheduled: dict[str, asyncio.Task[None]] = {}
        self._kept: set[str] = set()

    async def on_event(self, *, type: str | None, body: Mapping[str, Any], **_: Any) -> None:
        """Every TaskRun event: schedule the deletion of a finished run with a TTL."""
        metadata = body.get("metadata") or {}
        uid = str(metadata.get("uid"))
        if type == "DELETED":
            self._forget(uid)
            return
        due = expires_at(body)
        if due is None or uid in self._scheduled or uid in self._kept:
            return
        mark = argocd_managed(metadata)
        if mark is not None:
            self._kept.add(uid)
            await self._say_kept(metadata, mark=mark)
            return
        self._scheduled[uid] = asyncio.create_task(
            self._delete_when_due(
                namespace=str(metadata["namespace"]), name=str(metadata["name"]), uid=uid, due=due
            ),
            name=f"ttl of {metadata.get('namespace')}/{metadata.get('name')}",
        )

    async def close(self) -> None:
        """Stop every scheduled deletion (the operator stops; the next start schedules them
        again from the objects)."""
        tasks = list(self._scheduled.values())
        self._scheduled.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task

    def _forget(self, uid: str) -> None:
        self._kept.discard(uid)
        task = self._scheduled.pop(uid, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _say_kept(self, metadata: Mapping[str, Any], *, mark: str) -> None:
        about = ObjectRef(
            kind="TaskRun",
            namespace=str(metadata["namespace"]),
            name=str(metadata["name"]),
            uid=str(metadata["uid"]),
        )
        message = (
            f"ttlSecondsAfterFinished is ignored: the TaskRun carries Argo CD's {mark}, and "
            "Argo CD would create it again, running the work a second time; remove it from "
            "Git to remove it"
        )
        log.info("%s/%s kept: %s", about.namespace, about.name, message)
        try:
            await self._services.objects.post_event(
                about, reason="TTLIgnored", message=message, now=self._services.clock()
            )
        except MissionControlError as exc:
            log.warning("could not post the TTLIgnored Event: %s", exc)

    async def _delete_when_due(self, *, namespace: str, name: str, uid: str, due: datetime) -> None:
        try:
            wait = (due - self._services.clock()).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
            pause = 1.0
            while True:
                try:
                    deleted = await self._services.objects.delete(
                        "taskruns", namespace=namespace, name=name, uid=uid
                    )
                except TemporaryError as exc:
                    log.warning("cannot delete %s/%s yet (%s); trying again", namespace, name, exc)
                    await asyncio.sleep(exc.retry_after or pause)
                    pause = min(pause * 2, DELETE_PAUSE_MAX_SECONDS)
                    continue
                except MissionControlError as exc:
                    log.warning("not deleting %s/%s after its TTL: %s", namespace, name, exc)
                    return
                if deleted:
                    log.info(
                        "deleted %s/%s: finished, ttlSecondsAfterFinished reached "
                        "(its journal stays)",
                        namespace,
                        name,
                    )
                return
        finally:
            if self._scheduled.get(uid) is asyncio.current_task():
                del self._scheduled[uid]
