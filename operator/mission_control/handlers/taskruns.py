"""TaskRuns: one kopf daemon per active run, driving the run loop of :mod:`mission_control.agent`.

A run is active while it has not finished and ``spec.status`` is not ``Pending``; kopf starts
the daemon when that becomes true (at creation, or when ``Pending`` is cleared) and puts our
daemon without a finalizer on the object (the watch stops the loop of a deleted TaskRun, and
nothing needs the object while it goes away: the journal stays). The daemon resolves
the run (:mod:`.resolution`), fails invalid work at once, waits for a slot when
``MC_MAX_CONCURRENT_RUNS`` runs are active (reason ``Queued``), then calls
:func:`~mission_control.agent.drive_run` with:

- a :class:`~.ports.StatusReporter`: merge patches on the status subresource and our own Events;
- a :class:`~.ports.LiveRun`: the run's spec read from kopf's live view of the object, and a wake-up
  set by the watch handler (:meth:`TaskRuns.on_event`) whenever the spec's generation moves,
  so an approval or a cancellation reaches a waiting run without polling the API server.

An operator that stops (or a TaskRun deleted) cancels the loop; the run's status is left as
it was and the run resumes from its journal when the operator starts again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime
from typing import Any

import kopf

from mission_control.agent import RunRequest, drive_run, report_invalid
from mission_control.connectors.kubernetes.custom import ObjectRef
from mission_control.errors import MissionControlError, TemporaryError
from mission_control.handlers.definitions import previous_condition
from mission_control.handlers.logs import bind_run, unbind_run
from mission_control.handlers.notices import RunNotices
from mission_control.handlers.ports import LiveRun, StatusReporter, generation_of
from mission_control.handlers.queue import QueuedPosition, RunQueue
from mission_control.handlers.resolution import InvalidRun, resolve_run
from mission_control.handlers.services import OperatorServices
from mission_control.runs.status import DONE_REASONS, RunReason, succeeded_condition
from mission_control.store import RunSnapshot, StoreError

__all__ = ["TaskRuns", "is_active"]

log = logging.getLogger(__name__)

#: Longest pause between attempts to resolve a run while the API server is unavailable.
RESOLVE_PAUSE_MAX_SECONDS = 30.0
_STOP_NOW = (
    kopf.DaemonStoppingReason.RESOURCE_DELETED
    | kopf.DaemonStoppingReason.OPERATOR_EXITING
    | kopf.DaemonStoppingReason.OPERATOR_PAUSING
)


def _finished(status: Mapping[str, Any] | None) -> bool:
    condition = previous_condition({"status": status or {}}, "Succeeded")
    return condition is not None and condition.status in ("True", "False")


def _created_at(metadata: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(metadata["creationTimestamp"]).replace("Z", "+00:00"))


def is_active(*, spec: Mapping[str, Any], status: Mapping[str, Any], **_: Any) -> bool:
    """The daemon's filter: not finished, and not held back by ``spec.status: Pending``."""
    return not _finished(status) and spec.get("status") != "Pending"


class TaskRuns:
    """The TaskRun handlers: the daemon, and the watch that wakes it (see the module doc)."""

    def __init__(self, services: OperatorServices) -> None:
        self._services = services
        self._live: dict[str, LiveRun] = {}
        self._work: dict[str, asyncio.Task[None]] = {}
        self._queue = RunQueue(services.max_concurrent_runs)

    # -- the watch ------------------------------------------------------------------------

    async def on_event(self, *, type: str | None, body: Mapping[str, Any], **_: Any) -> None:
        """Every event of a TaskRun: wake its run; show a held-back run as ``Pending``."""
        metadata = body.get("metadata") or {}
        uid = str(metadata.get("uid"))
        live = self._live.get(uid)
        if live is not None:
            live.observe()
        if type == "DELETED":
            work = self._work.get(uid)
            if work is not None and not work.done():
                # No finalizer holds the object for kopf to stop the daemon: stop it here.
                log.info("the TaskRun was deleted: stopping its run")
                work.cancel()
            return
        if (body.get("spec") or {}).get("status") != "Pending":
            return
        condition = previous_condition(body, "Succeeded")
        if condition is None:
            await self._show_pending(dict(body))

    async def _show_pending(self, raw: Mapping[str, Any]) -> None:
        metadata = raw["metadata"]
        message = 'spec.status is Pending: set it to "" to start the run'
        condition = succeeded_condition(
            "Pending",
            message=message,
            generation=generation_of(raw),
            now=self._services.clock(),
            previous=None,
        )
        await self._services.objects.patch_status(
            "taskruns",
            namespace=metadata["namespace"],
            name=metadata["name"],
            patch={"observedGeneration": generation_of(raw), "conditions": [condition.to_k8s()]},
        )
        await self._mirror(raw, reason="Pending", message=message)

    # -- the daemon -----------------------------------------------------------------------

    async def drive(
        self, *, body: Mapping[str, Any], stopped: kopf.DaemonStopped, **_: Any
    ) -> None:
        """The daemon of one active run; returns when the run ended or must stop."""
        metadata = body["metadata"]
        uid = str(metadata["uid"])
        token = bind_run(namespace=str(metadata["namespace"]), name=str(metadata["name"]))
        live = LiveRun(body)
        self._live[uid] = live
        work = asyncio.create_task(self._run(body, live), name=f"run {uid}")
        self._work[uid] = work
        try:
            await self._until_done(work, stopped)
        finally:
            work.cancel()
            with suppress(asyncio.CancelledError):
                await work
            self._live.pop(uid, None)
            if self._work.get(uid) is work:
                del self._work[uid]
            unbind_run(token)

    @staticmethod
    async def _until_done(work: asyncio.Task[None], stopped: kopf.DaemonStopped) -> None:
        """Wait for ``work``; cancel it when the object is deleted or the operator stops.

        A stop because the filter no longer matches means the run just wrote its own end:
        the loop is let finish what it was doing (its last Event).
        """

        async def stop_requested() -> None:
            await stopped.wait()

        waiter = asyncio.create_task(stop_requested(), name="stop of a run's daemon")
        try:
            await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done() and stopped.reason is not None and stopped.reason & _STOP_NOW:
                log.info(
                    "stopping the run (%s); it resumes when the operator runs again", stopped.reason
                )
                work.cancel()
            with suppress(asyncio.CancelledError):
                await work
        finally:
            waiter.cancel()
            with suppress(asyncio.CancelledError):
                await waiter

    async def _run(self, body: Mapping[str, Any], live: LiveRun) -> None:
        raw = dict(body)
        metadata = raw["metadata"]
        about = ObjectRef(
            kind="TaskRun",
            namespace=str(metadata["namespace"]),
            name=str(metadata["name"]),
            uid=str(metadata["uid"]),
        )
        notices = self._notices(raw, about=about)
        reporter = StatusReporter(
            self._services.objects,
            about=about,
            live=body,
            observer=None if notices is None else notices.observe,
        )
        try:
            if live.cancelled() and not (raw.get("status") or {}).get("startTime"):
                who = live.cancelled_by()
                await self._end(
                    raw,
                    reporter,
                    reason="Cancelled",
                    message="cancelled before it started" + (f" {who}" if who else ""),
                )
                return
            try:
                request = await self._resolve(raw)
            except InvalidRun as exc:
                await self._end(raw, reporter, reason=exc.reason, message=exc.message)
                return
            if notices is not None:
                notices.routes = request.notify_routes
                notices.run_account = request.service_account
                notices.task = request.task_name
            if not await self._queue_up(raw, reporter, live):
                return
            try:
                outcome = await drive_run(
                    request=request,
                    services=self._services.agent,
                    reporter=reporter,
                    control=live,
                )
            finally:
                self._queue.release(str(metadata["uid"]))
            log.info(
                "run ended: %s: %s (%d Kubernetes writes)",
                outcome.reason,
                outcome.message,
                reporter.writes,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A defect, not a run's outcome: say so where the user looks, once.
            log.exception("the run failed inside the operator")
            with suppress(Exception):
                await self._end(
                    raw,
                    reporter,
                    reason="Failed",
                    message=f"the operator failed while driving the run: {type(exc).__name__}: "
                    f"{exc}; see the operator's log",
                )

    def _notices(self, raw: Mapping[str, Any], *, about: ObjectRef) -> RunNotices | None:
        if self._services.notifier is None:
            return None
        ref = (raw.get("spec") or {}).get("taskRef") or {}
        task = f"{about.namespace}/{ref['name']}" if ref.get("name") else ""
        return self._services.notifier.for_run(about=about, task=task)

    async def _resolve(self, raw: Mapping[str, Any]) -> RunRequest:
        pause = 1.0
        while True:
            try:
                return await resolve_run(raw, services=self._services)
            except InvalidRun:
                raise
            except TemporaryError as exc:
                log.warning("cannot resolve the run yet, trying again in %gs: %s", pause, exc)
                await asyncio.sleep(exc.retry_after or pause)
                pause = min(pause * 2, RESOLVE_PAUSE_MAX_SECONDS)
            except MissionControlError as exc:
                raise InvalidRun("Failed", f"the run cannot be resolved: {exc}") from exc

    async def _queue_up(
        self, raw: Mapping[str, Any], reporter: StatusReporter, live: LiveRun
    ) -> bool:
        """Wait for one of ``MC_MAX_CONCURRENT_RUNS`` slots, showing ``Queued`` with the run's
        place in line; False when the run was cancelled while it waited (it has ended)."""
        metadata = raw["metadata"]
        key = (_created_at(metadata), str(metadata["name"]), str(metadata["uid"]))
        limit = self._queue.limit

        async def show(position: int) -> None:
            condition = succeeded_condition(
                "Queued",
                message=f"waiting: number {position} in the queue; {limit} runs are active "
                "(MC_MAX_CONCURRENT_RUNS)",
                generation=generation_of(raw),
                now=self._services.clock(),
                previous=previous_condition(raw, "Succeeded"),
            )
            await reporter.patch_status({"conditions": [condition.to_k8s()]})

        async def until_cancelled() -> None:
            while not live.cancelled():
                await live.wait_for_change()

        shown = QueuedPosition(show)
        with self._services.agent.metrics.queued():
            turn = asyncio.create_task(self._queue.wait_turn(key, on_position=shown.moved))
            cancel = asyncio.create_task(until_cancelled())
            try:
                await asyncio.wait({turn, cancel}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in (turn, cancel):
                    if not waiting.done():
                        waiting.cancel()
                await asyncio.gather(turn, cancel, return_exceptions=True)
                await shown.close()
        if not turn.cancelled() and turn.exception() is None:
            shown.check()
            return True
        if turn.cancelled() and cancel.done() and not cancel.cancelled():
            who = live.cancelled_by()
            await self._end(
                raw,
                reporter,
                reason="Cancelled",
                message="cancelled while queued: spec.status was set to Cancelled"
                + (f" {who}" if who else ""),
            )
            return False
        turn.result()  # a failure while showing the position: raise it
        return True

    async def _end(
        self, raw: Mapping[str, Any], reporter: StatusReporter, *, reason: RunReason, message: str
    ) -> None:
        """End a run without the loop (invalid, cancelled before it started, or the loop
        failed): status, Event, and its row in the store."""
        if reason not in DONE_REASONS:
            raise ValueError(f"{reason} does not end a run")
        now = self._services.clock()
        await report_invalid(
            reporter=reporter,
            reason=reason,
            message=message,
            generation=generation_of(raw),
            now=now,
        )
        self._services.agent.metrics.run_finished(
            namespace=str(raw["metadata"]["namespace"]), reason=reason, seconds=None
        )
        log.info("run ended: %s: %s", reason, message)
        await self._mirror(raw, reason=reason, message=message, completion_time=now)

    async def _mirror(
        self,
        raw: Mapping[str, Any],
        *,
        reason: RunReason,
        message: str,
        completion_time: datetime | None = None,
    ) -> None:
        metadata = raw["metadata"]
        spec = raw.get("spec") or {}
        done = reason in DONE_REASONS
        snapshot = RunSnapshot(
            uid=str(metadata["uid"]),
            namespace=str(metadata["namespace"]),
            name=str(metadata["name"]),
            task_name=str((spec.get("taskRef") or {}).get("name") or ""),
            spec=dict(spec),
            succeeded=("True" if reason == "Succeeded" else "False") if done else "Unknown",
            reason=reason,
            message=message,
            created_at=datetime.fromisoformat(
                str(metadata["creationTimestamp"]).replace("Z", "+00:00")
            ),
            completion_time=completion_time,
        )
        try:
            await self._services.store.runs.upsert_run(snapshot)
        except StoreError as exc:
            log.warning("run not mirrored in the store: %s", exc)
