"""The run loop's ports over a TaskRun: its live view (:class:`LiveRun`) and its reporter.

:class:`LiveRun` is the loop's :class:`~mission_control.agent.RunControl` over kopf's live view
of the object; :class:`StatusReporter` is its :class:`~mission_control.agent.RunReporter`:
merge patches on the status subresource and our own Events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from mission_control.connectors.kubernetes.custom import MissionControlObjects, ObjectRef
from mission_control.errors import MissionControlError, TemporaryError
from mission_control.resources.taskrun import Approval
from mission_control.runs.approvals import ApprovalEntry
from mission_control.runs.resolve import approval_entries

__all__ = ["PATCH_PAUSE_MAX_SECONDS", "LiveRun", "StatusReporter", "generation_of"]

log = logging.getLogger(__name__)

#: Pause after the first failed status patch; it doubles up to PATCH_PAUSE_MAX_SECONDS.
PATCH_PAUSE_SECONDS = 1.0
#: Longest pause between attempts while the API server is unreachable or throttles.
PATCH_PAUSE_MAX_SECONDS = 30.0


def generation_of(body: Mapping[str, Any]) -> int:
    return int((body.get("metadata") or {}).get("generation") or 0)


def who_cancelled(body: Mapping[str, Any]) -> str:
    """Who set ``spec.status`` and why, from ``metadata.managedFields`` and ``statusMessage``.

    The API server records which client (field manager) last wrote each field, not which
    user: ``kubectl patch`` is ``kubectl-patch``, ``kubectl apply --server-side`` the
    manager it was given. The user's own words go in ``spec.statusMessage``.
    """
    words = []
    for entry in (body.get("metadata") or {}).get("managedFields") or ():
        if not isinstance(entry, dict):
            continue
        fields = entry.get("fieldsV1") or {}
        if "f:status" in (fields.get("f:spec") or {}) and entry.get("manager"):
            when = f" at {entry['time']}" if entry.get("time") else ""
            words.append(f"by {entry['manager']}{when}")
            break
    note = (body.get("spec") or {}).get("statusMessage")
    if note:
        words.append(f'saying "{note}"')
    return " ".join(words)


class LiveRun:
    """The run's :class:`~mission_control.agent.RunControl` over kopf's live view of the object.

    kopf replaces the content of the daemon's ``body`` with each new event of the object before
    any handler runs, so reading it is reading the latest state kopf has seen.
    """

    def __init__(self, body: Mapping[str, Any]) -> None:
        self._body = body
        self._seen_generation = generation_of(body)
        self._changed = asyncio.Event()

    def observe(self) -> None:
        """Called for every event of the object: wake a waiting run when the spec changed."""
        generation = generation_of(self._body)
        if generation != self._seen_generation:
            self._seen_generation = generation
            self._changed.set()

    def _spec(self) -> Mapping[str, Any]:
        return self._body.get("spec") or {}

    def approvals(self) -> Sequence[ApprovalEntry]:
        parsed = []
        for item in self._spec().get("approvals") or ():
            try:
                parsed.append(Approval.model_validate(item))
            except ValidationError as exc:  # the API server validated it; a newer schema?
                log.warning("approval entry ignored, it does not parse: %s", exc)
        return approval_entries(parsed)

    def cancelled(self) -> bool:
        return self._spec().get("status") == "Cancelled"

    def cancelled_by(self) -> str:
        return who_cancelled(self._body)

    async def wait_for_change(self) -> None:
        await self._changed.wait()
        self._changed.clear()


class StatusReporter:
    """The run's :class:`~mission_control.agent.RunReporter`: status patches and Events.

    ``observedGeneration`` (of status and of each condition) is set to the generation of the
    object as last seen, when a live view is given: the run observes its spec while it runs
    (approvals, cancellation), and ``kubectl wait --for=condition=...`` only trusts a
    condition observed for the current generation.

    ``writes`` counts the requests that changed the TaskRun or posted an Event about it.
    ``observer`` (when set) sees every patch once it is applied, and must not wait: the
    run's notifications start there (:mod:`.notices`).
    """

    def __init__(
        self,
        objects: MissionControlObjects,
        *,
        about: ObjectRef,
        live: Mapping[str, Any] | None = None,
        observer: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        self._objects = objects
        self._about = about
        self._live = live
        self.observer = observer
        self.writes = 0

    def _observed(self, patch: Mapping[str, Any]) -> Mapping[str, Any]:
        if self._live is None or "observedGeneration" not in patch:
            return patch
        generation = generation_of(self._live)
        conditions = [
            {**condition, "observedGeneration": generation}
            for condition in patch.get("conditions") or ()
        ]
        observed = {**patch, "observedGeneration": generation}
        if conditions:
            observed["conditions"] = conditions
        return observed

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        """Merge-patch the status, trying again for as long as the failure is temporary.

        The run's state is in its journal and the patch is idempotent, so waiting out an API
        server that is down or throttling loses nothing, while giving up would leave the run
        neither going on nor ended until the operator restarts. Cancelling the run's task
        (the operator stopping) ends the wait.
        """
        patch = self._observed(patch)
        pause = PATCH_PAUSE_SECONDS
        attempt = 1
        while True:
            try:
                await self._objects.patch_status(
                    "taskruns", namespace=self._about.namespace, name=self._about.name, patch=patch
                )
            except TemporaryError as exc:
                log.warning("status patch failed (attempt %d), trying again: %s", attempt, exc)
                await asyncio.sleep(exc.retry_after or pause)
                pause = min(pause * 2, PATCH_PAUSE_MAX_SECONDS)
                attempt += 1
            else:
                self.writes += 1
                if self.observer is not None:
                    try:
                        self.observer(patch)
                    except Exception:  # a notification must never fail the run
                        log.exception("the status patch's observer failed")
                return

    async def post_event(self, *, reason: str, message: str, warning: bool = False) -> None:
        try:
            await self._objects.post_event(
                self._about, reason=reason, message=message, warning=warning
            )
        except MissionControlError as exc:
            # An Event is a courtesy: the status and the journal carry the facts.
            log.warning("event %s not posted: %s", reason, exc)
            return
        self.writes += 1
