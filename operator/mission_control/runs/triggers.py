"""The TaskRuns a TaskTrigger creates and keeps: their names, their manifest, their history.

Pure: the handlers list a trigger's runs (label ``missioncontrol.dev/trigger``) and hand them
here as :class:`OwnedRun` values; what comes back is data to create, patch or delete.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from mission_control.resources.schemas.patterns import (
    FINGERPRINT_LABEL,
    GROUP,
    TRIGGER_LABEL,
    VERSION,
)
from mission_control.resources.tasktrigger import RecentAlert, TaskTriggerSpec
from mission_control.runs.readiness import Readiness
from mission_control.runs.schedule import InvalidSchedule, parse_schedule

__all__ = [
    "OwnedRun",
    "TriggerRef",
    "alert_run_name",
    "recent_alerts",
    "run_manifest",
    "runs_to_prune",
    "schedule_run_name",
    "trigger_readiness",
    "trigger_summary",
]

#: Longest name of a run we create: it stays usable as a label value (at most 63 characters).
RUN_NAME_MAX = 63
Outcome = Literal["True", "False", "Unknown"]


@dataclass(frozen=True, kw_only=True)
class TriggerRef:
    """The trigger a run belongs to; ``labels`` are its metadata labels."""

    namespace: str
    name: str
    uid: str
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, kw_only=True)
class OwnedRun:
    """A TaskRun of the trigger as listed: ``succeeded`` is its Succeeded condition status."""

    name: str
    uid: str
    created_at: datetime
    succeeded: Outcome
    finished_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.succeeded == "Unknown"


def _name(trigger: str, suffix: str) -> str:
    room = RUN_NAME_MAX - len(suffix) - 1
    return f"{trigger[:room].rstrip('-.')}-{suffix}"


def schedule_run_name(trigger: str, tick: datetime) -> str:
    """``<trigger>-<unix minute of the tick>`` (seconds when the schedule has them): the same
    tick always gets the same name, so it can never start twice."""
    seconds = int(tick.timestamp())
    suffix = str(seconds // 60) if seconds % 60 == 0 else str(seconds)
    return _name(trigger, suffix)


def alert_run_name(trigger: str, fingerprint: str, now: datetime) -> str:
    """``<trigger>-<hash of the fingerprint and second>``: a repeated delivery in the same
    second cannot start a second run, even past the status' cooldown."""
    second = int(now.timestamp())
    digest = hashlib.sha256(f"{fingerprint}/{second}".encode()).hexdigest()[:10]
    return _name(trigger, digest)


#: Argo CD's tracking label: a run carrying it would be pruned by Argo CD as not in Git (and
#: never expire by its TTL), so a trigger managed by Argo CD does not pass it on.
ARGOCD_TRACKING_LABEL = "app.kubernetes.io/instance"


def _inherited(key: str) -> bool:
    prefix, slash, _ = key.partition("/")
    ours = bool(slash) and (prefix == GROUP or prefix.endswith(f".{GROUP}"))
    return not ours and key != ARGOCD_TRACKING_LABEL


def run_manifest(
    *,
    trigger: TriggerRef,
    spec: TaskTriggerSpec,
    name: str,
    params: Mapping[str, str],
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """The TaskRun to create: owned by the trigger (garbage-collected with it), labelled with
    the trigger's labels (so it lands in the trigger's shard) and ours."""
    # The project's own labels are set here only: a trigger's label under our prefix (say a
    # fingerprint on a scheduled trigger) would tell something false about the run.
    labels = {key: value for key, value in trigger.labels.items() if _inherited(key)}
    labels[TRIGGER_LABEL] = trigger.name[:63]
    if fingerprint is not None:
        labels[FINGERPRINT_LABEL] = fingerprint
    run_spec: dict[str, Any] = {"taskRef": {"name": spec.task_ref.name}}
    if params:
        run_spec["params"] = [{"name": key, "value": value} for key, value in params.items()]
    if spec.run_template is not None:
        run_spec.update(spec.run_template.to_k8s())
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TaskRun",
        "metadata": {
            "name": name,
            "namespace": trigger.namespace,
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "TaskTrigger",
                    "name": trigger.name,
                    "uid": trigger.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": run_spec,
    }


def runs_to_prune(
    runs: Sequence[OwnedRun], *, successful_limit: int, failed_limit: int
) -> list[OwnedRun]:
    """The finished runs beyond the history limits, oldest first; active runs are kept."""
    doomed: list[OwnedRun] = []
    for outcome, limit in (("True", successful_limit), ("False", failed_limit)):
        finished = sorted(
            (run for run in runs if run.succeeded == outcome),
            key=lambda run: (run.finished_at or run.created_at, run.created_at, run.name),
        )
        doomed.extend(finished[: max(len(finished) - limit, 0)])
    return doomed


def recent_alerts(
    entries: Sequence[RecentAlert],
    *,
    started: Mapping[str, datetime],
    now: datetime,
    cooldown_seconds: int,
    most: int = 100,
) -> list[RecentAlert]:
    """The fingerprints still within the cooldown, with the ones that just ``started``; the
    newest ``most`` of them."""
    cutoff = now - timedelta(seconds=cooldown_seconds)
    latest = {entry.fingerprint: entry.started_at.astimezone(UTC) for entry in entries}
    latest.update(started)
    kept = [
        RecentAlert(fingerprint=fingerprint, started_at=at)
        for fingerprint, at in latest.items()
        if at > cutoff
    ]
    kept.sort(key=lambda entry: entry.started_at, reverse=True)
    return kept[:most]


def trigger_readiness(
    spec: TaskTriggerSpec,
    *,
    namespace: str,
    task_found: bool,
    token_found: bool | None,
    token_forbidden_to: str | None = None,
) -> Readiness:
    """Whether the trigger can start runs, or what to fix.

    ``token_found`` is None for a schedule (no token to find); ``token_forbidden_to`` names the
    ServiceAccount (of ``namespace``) that was refused the token Secret.
    """
    if spec.schedule is not None:
        try:
            parse_schedule(spec.schedule)
        except InvalidSchedule as exc:
            return Readiness(ready=False, reason="InvalidSchedule", message=str(exc))
    if spec.alert is not None:
        for matcher in spec.alert.matchers:
            if matcher.op in ("=~", "!~"):
                try:
                    re.compile(matcher.value)
                except re.error as exc:
                    return Readiness(
                        ready=False,
                        reason="InvalidMatcher",
                        message=f"spec.alert.matchers: {matcher.value!r} of label "
                        f"{matcher.label} is not a regular expression ({exc}); fix or use =",
                    )
        ref = spec.alert.token_secret_ref
        if token_forbidden_to is not None:
            account, role = token_forbidden_to, f"read-{ref.name}"
            return Readiness(
                ready=False,
                reason="TokenForbidden",
                message=f"spec.alert.tokenSecretRef: Secret {namespace}/{ref.name} is read as "
                f"ServiceAccount {namespace}:{account}, which may not get it; grant it "
                f"(kubectl -n {namespace} create role {role} --verb=get --resource=secrets "
                f"--resource-name={ref.name} && kubectl -n {namespace} create rolebinding "
                f"{role} --role={role} --serviceaccount={namespace}:{account}), alerts are "
                "refused until then",
            )
        if not token_found:
            return Readiness(
                ready=False,
                reason="TokenMissing",
                message=f"spec.alert.tokenSecretRef: Secret {namespace}/{ref.name} with key "
                f"{ref.key} not found; create it (kubectl create secret generic {ref.name} "
                f"-n {namespace} --from-literal={ref.key}=TOKEN), alerts are refused until then",
            )
    if not task_found:
        return Readiness(
            ready=False,
            reason="TaskNotFound",
            message=f"spec.taskRef: Task {namespace}/{spec.task_ref.name} not found; create it "
            "or fix the name",
        )
    return Readiness(ready=True, reason="Valid", message="")


def trigger_summary(spec: TaskTriggerSpec) -> tuple[str, str]:
    """What ``kubectl get mctrigger`` shows: the kind (Schedule or Alert) and a summary, the
    cron and its zone or the matchers (at most 100 characters)."""
    if spec.schedule is not None:
        return "Schedule", f"{spec.schedule.cron} {spec.schedule.time_zone}"[:100]
    matchers = spec.alert.matchers if spec.alert is not None else []
    text = ",".join(f"{m.label}{m.op}{m.value}" for m in matchers) or "(every alert)"
    return "Alert", text if len(text) <= 100 else text[:99] + "…"
