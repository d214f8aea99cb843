"""What schedules and alerts share: a trigger's runs, its Ready verdict, starting and pruning.

Every change to one trigger (a tick, an alert notification, a run's end) happens under that
trigger's lock, on a fresh read of the trigger: counts and the cooldown's fingerprints in its
status are read, changed and written back without losing a concurrent update of this process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from mission_control.connectors.errors import ConnectorForbidden
from mission_control.connectors.kubernetes.custom import MissionControlObjects
from mission_control.errors import MissionControlError
from mission_control.resources.common import Condition
from mission_control.resources.schemas.patterns import TRIGGER_LABEL
from mission_control.resources.tasktrigger import (
    TaskTriggerSpec,
    TriggerCounts,
)
from mission_control.runs.alerts import WebhookPayload, judge_alert
from mission_control.runs.readiness import Readiness, ready_condition
from mission_control.runs.schedule import TickDecision, decide_tick, parse_schedule
from mission_control.runs.triggers import (
    OwnedRun,
    TriggerRef,
    alert_run_name,
    recent_alerts,
    run_manifest,
    runs_to_prune,
    schedule_run_name,
    trigger_readiness,
    trigger_summary,
)
from mission_control.telemetry import OperatorMetrics
from mission_control.triggers.objects import (
    Reception,
    counts_entry,
    owned_run,
    parse_time,
    run_entry,
    stamp,
    trigger_ref,
    trigger_status,
)
from mission_control.triggers.tokens import TriggerTokens

__all__ = ["Reception", "TriggerService"]

log = logging.getLogger(__name__)


class TriggerService:
    """A trigger's runs and status (see the module doc).

    ``objects`` reads and patches triggers and runs as the operator; ``tokens`` reads alerting
    triggers' tokens as their agent ServiceAccount (the operator reads no Secrets).
    """

    def __init__(
        self,
        *,
        objects: MissionControlObjects,
        tokens: TriggerTokens,
        metrics: OperatorMetrics | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.objects = objects
        self.tokens = tokens
        self._metrics = metrics
        self.clock = clock
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def _lock(self, namespace: str, name: str) -> asyncio.Lock:
        return self._locks.setdefault((namespace, name), asyncio.Lock())

    def forget(self, namespace: str, name: str) -> None:
        """The trigger is gone: drop its lock."""
        self._locks.pop((namespace, name), None)

    def _count(self, *, source: str, outcome: str, times: int = 1) -> None:
        if self._metrics is not None:
            for _ in range(times):
                self._metrics.trigger_outcome(source=source, outcome=outcome)

    async def runs_of(self, trigger: TriggerRef) -> list[OwnedRun]:
        """The TaskRuns the trigger owns (labelled and owned: a label alone is not enough)."""
        listed = await self.objects.list_namespaced(
            "taskruns", namespace=trigger.namespace, label_selector=f"{TRIGGER_LABEL}"
        )
        owned = []
        for raw in listed:
            owners = (raw.get("metadata") or {}).get("ownerReferences") or ()
            if any(isinstance(o, dict) and o.get("uid") == trigger.uid for o in owners):
                owned.append(owned_run(raw))
        return owned

    # -- Ready ----------------------------------------------------------------------------

    async def judge(self, raw: Mapping[str, Any]) -> Readiness | None:
        """Set the trigger's Ready condition; None when its spec does not parse."""
        metadata = raw.get("metadata") or {}
        namespace, name = str(metadata.get("namespace")), str(metadata.get("name"))
        try:
            spec = TaskTriggerSpec.model_validate(raw.get("spec") or {})
        except ValidationError as exc:
            log.warning("tasktrigger %s/%s does not parse: %s", namespace, name, exc)
            return None
        task = await self.objects.get("tasks", namespace=namespace, name=spec.task_ref.name)
        token_found: bool | None = None
        forbidden_to: str | None = None
        if spec.alert is not None:
            try:
                token_found = bool(await self.tokens.read(namespace, spec))
            except ConnectorForbidden:
                token_found, forbidden_to = False, self.tokens.reader(spec)
        verdict = trigger_readiness(
            spec,
            namespace=namespace,
            task_found=task is not None,
            token_found=token_found,
            token_forbidden_to=forbidden_to,
        )
        kind, summary = trigger_summary(spec)
        await self._set_ready(raw, verdict, shown={"kind": kind, "summary": summary})
        return verdict

    async def _set_ready(
        self, raw: Mapping[str, Any], verdict: Readiness, *, shown: Mapping[str, str]
    ) -> None:
        metadata = raw["metadata"]
        generation = int(metadata.get("generation") or 0)
        previous = None
        for item in (raw.get("status") or {}).get("conditions") or ():
            if isinstance(item, dict) and item.get("type") == "Ready":
                try:
                    previous = Condition.model_validate(item)
                except ValidationError:
                    previous = None
        status = raw.get("status") or {}
        if (
            previous is not None
            and all(status.get(key) == value for key, value in shown.items())
            and previous.observed_generation == generation
            and (previous.status == "True") == verdict.ready
            and previous.reason == verdict.reason
            and previous.message == verdict.message
        ):
            return
        condition = ready_condition(
            verdict, generation=generation, now=self.clock(), previous=previous
        )
        await self.objects.patch_status(
            "tasktriggers",
            namespace=str(metadata["namespace"]),
            name=str(metadata["name"]),
            patch={
                "observedGeneration": generation,
                "conditions": [condition.to_k8s()],
                **shown,
            },
        )
        log.info(
            "tasktrigger %s/%s: Ready=%s %s %s",
            metadata["namespace"],
            metadata["name"],
            "True" if verdict.ready else "False",
            verdict.reason,
            verdict.message,
        )

    # -- runs -----------------------------------------------------------------------------

    async def _fresh(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.objects.get("tasktriggers", namespace=namespace, name=name)

    async def _start(
        self,
        trigger: TriggerRef,
        spec: TaskTriggerSpec,
        *,
        name: str,
        params: Mapping[str, str],
        fingerprint: str | None = None,
    ) -> OwnedRun | None:
        manifest = run_manifest(
            trigger=trigger, spec=spec, name=name, params=params, fingerprint=fingerprint
        )
        created = await self.objects.create("taskruns", namespace=trigger.namespace, body=manifest)
        if created is None:
            log.info("taskrun %s/%s exists already: not started again", trigger.namespace, name)
            return None
        log.info("tasktrigger %s/%s started taskrun %s", trigger.namespace, trigger.name, name)
        return owned_run(created)

    async def _cancel(self, trigger: TriggerRef, runs: Sequence[OwnedRun]) -> None:
        for run in runs:
            await self.objects.patch(
                "taskruns",
                namespace=trigger.namespace,
                name=run.name,
                patch={
                    "spec": {
                        "status": "Cancelled",
                        "statusMessage": f"replaced by a new run of TaskTrigger {trigger.name} "
                        "(concurrencyPolicy Replace)",
                    }
                },
            )

    async def tick(self, namespace: str, name: str) -> TickDecision | None:
        """Handle the schedule at the current time: start, skip or do nothing (see
        :func:`~mission_control.runs.schedule.decide_tick`)."""
        async with self._lock(namespace, name):
            raw = await self._fresh(namespace, name)
            if raw is None:
                return None
            spec = TaskTriggerSpec.model_validate(raw.get("spec") or {})
            if spec.schedule is None:
                return None
            schedule = parse_schedule(spec.schedule)
            trigger = trigger_ref(raw)
            status = trigger_status(raw)
            now = self.clock()
            created = parse_time(raw["metadata"].get("creationTimestamp")) or now

            def decide(active_runs: int) -> TickDecision:
                return decide_tick(
                    schedule,
                    now=now,
                    last_tick=status.last_schedule_time,
                    created_at=created,
                    active_runs=active_runs,
                    policy=spec.concurrency_policy,
                    suspended=spec.suspend,
                )

            decision = decide(0)
            active: list[OwnedRun] = []
            if decision.tick is not None:  # only then do the active runs matter: list them
                active = [run for run in await self.runs_of(trigger) if run.active]
                decision = decide(len(active))
            counts = status.counts or TriggerCounts()
            patch: dict[str, Any] = {}
            if decision.tick is not None:
                patch["lastScheduleTime"] = stamp(decision.tick)
            if decision.action in ("skip-active", "skip-missed"):
                counts = counts.model_copy(update={"skipped": counts.skipped + 1})
                self._count(source="schedule", outcome="skipped")
                log.info(
                    "tasktrigger %s/%s: tick %s skipped (%s)",
                    namespace,
                    name,
                    decision.tick,
                    "a run is active, concurrencyPolicy Forbid"
                    if decision.action == "skip-active"
                    else "past startingDeadlineSeconds",
                )
            elif decision.action in ("start", "replace") and decision.tick is not None:
                if decision.action == "replace":
                    await self._cancel(trigger, active)
                params = {param.name: param.value for param in spec.params}
                run = await self._start(
                    trigger, spec, name=schedule_run_name(name, decision.tick), params=params
                )
                if run is not None:
                    counts = counts.model_copy(update={"started": counts.started + 1})
                    self._count(source="schedule", outcome="started")
                    patch["lastTriggerTime"] = stamp(now)
                    patch["lastRun"] = run_entry(run)
                    active = [*active, run]
            patch["counts"] = counts_entry(counts)
            if decision.tick is not None:
                patch["active"] = [run_entry(run) for run in active]
            next_stamp = stamp(decision.next_time)
            if (
                decision.tick is not None
                or (raw.get("status") or {}).get("nextScheduleTime") != next_stamp
            ):
                patch["nextScheduleTime"] = next_stamp
                await self._patch(trigger, patch)
            return decision

    async def _patch(self, trigger: TriggerRef, patch: Mapping[str, Any]) -> None:
        await self.objects.patch_status(
            "tasktriggers", namespace=trigger.namespace, name=trigger.name, patch=patch
        )

    async def receive(self, raw: Mapping[str, Any], payload: WebhookPayload) -> Reception:
        """Start a run for each firing alert that matches, under the cooldown and the
        concurrency policy; the trigger's status and the metrics count what happened."""
        metadata = raw["metadata"]
        namespace, name = str(metadata["namespace"]), str(metadata["name"])
        reception = Reception()
        async with self._lock(namespace, name):
            fresh = await self._fresh(namespace, name)
            if fresh is None:
                return reception
            spec = TaskTriggerSpec.model_validate(fresh.get("spec") or {})
            if spec.alert is None:
                return reception
            trigger = trigger_ref(fresh)
            status = trigger_status(fresh)
            now = self.clock()
            recent = {entry.fingerprint: entry.started_at for entry in status.recent_alerts}
            runs = await self.runs_of(trigger)
            active = [run for run in runs if run.active]
            started: dict[str, datetime] = {}
            last_run: OwnedRun | None = None
            for alert in payload.alerts:
                verdict = judge_alert(
                    alert,
                    source=spec.alert,
                    params=spec.params,
                    recent={**recent, **started},
                    now=now,
                )
                if verdict.outcome == "ignored":
                    reception.ignored += 1
                elif verdict.outcome == "deduplicated":
                    reception.deduplicated += 1
                elif verdict.outcome == "refused":
                    reception.refused.append(
                        {"fingerprint": alert.fingerprint, "reason": verdict.reason}
                    )
                elif spec.suspend or (active and spec.concurrency_policy == "Forbid"):
                    reception.skipped += 1
                else:
                    if active and spec.concurrency_policy == "Replace":
                        await self._cancel(trigger, active)
                        active = []
                    run = await self._start(
                        trigger,
                        spec,
                        name=alert_run_name(name, alert.fingerprint, now),
                        params=verdict.params or {},
                        fingerprint=alert.fingerprint,
                    )
                    started[alert.fingerprint] = now
                    if run is None:
                        reception.deduplicated += 1
                        continue
                    reception.started.append(run.name)
                    active.append(run)
                    last_run = run
            counts = status.counts or TriggerCounts()
            counts = TriggerCounts(
                started=counts.started + len(reception.started),
                deduplicated=counts.deduplicated + reception.deduplicated,
                skipped=counts.skipped + reception.skipped,
                refused=counts.refused + len(reception.refused),
            )
            for outcome, times in (
                ("started", len(reception.started)),
                ("deduplicated", reception.deduplicated),
                ("skipped", reception.skipped),
                ("refused", len(reception.refused)),
            ):
                self._count(source="alert", outcome=outcome, times=times)
            kept = recent_alerts(
                status.recent_alerts,
                started=started,
                now=now,
                cooldown_seconds=spec.alert.cooldown_seconds,
            )
            patch: dict[str, Any] = {
                "counts": counts_entry(counts),
                "recentAlerts": [entry.to_k8s() for entry in kept],
                "active": [run_entry(run) for run in active],
            }
            if last_run is not None:
                patch["lastTriggerTime"] = stamp(now)
                patch["lastRun"] = run_entry(last_run)
            await self._patch(trigger, patch)
        for refused in reception.refused:
            log.warning(
                "tasktrigger %s/%s refused alert %s: %s",
                namespace,
                name,
                refused["fingerprint"],
                refused["reason"],
            )
        return reception

    async def reconcile(self, namespace: str, name: str) -> None:
        """After a run of the trigger changed: its active runs and last run in status, and
        the finished runs beyond the history limits deleted."""
        async with self._lock(namespace, name):
            raw = await self._fresh(namespace, name)
            if raw is None:
                return
            try:
                spec = TaskTriggerSpec.model_validate(raw.get("spec") or {})
            except ValidationError:
                return
            trigger = trigger_ref(raw)
            runs = await self.runs_of(trigger)
            doomed = runs_to_prune(
                runs,
                successful_limit=spec.successful_runs_history_limit,
                failed_limit=spec.failed_runs_history_limit,
            )
            for run in doomed:
                try:
                    await self.objects.delete(
                        "taskruns", namespace=namespace, name=run.name, uid=run.uid
                    )
                except MissionControlError as exc:
                    log.warning("taskrun %s/%s not pruned: %s", namespace, run.name, exc)
                else:
                    log.info("tasktrigger %s/%s pruned taskrun %s", namespace, name, run.name)
            gone = {run.uid for run in doomed}
            kept = [run for run in runs if run.uid not in gone]
            patch: dict[str, Any] = {"active": [run_entry(run) for run in kept if run.active]}
            if kept:
                latest = max(kept, key=lambda run: (run.created_at, run.name))
                patch["lastRun"] = run_entry(latest)
            status = raw.get("status") or {}
            if any(status.get(key) != value for key, value in patch.items()):
                await self._patch(trigger, patch)
