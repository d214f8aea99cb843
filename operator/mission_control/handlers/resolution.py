"""A TaskRun resolved into the run loop's :class:`~mission_control.agent.RunRequest`.

Reads what the run depends on, once, at its start: the Task (``taskRef``) or the inline
``taskSpec``, the ToolPolicy (the Task's ``policyRef``, else ``default`` of the namespace, else
the built-in default), the ClusterToolPolicies, the namespace's labels and whether the
ServiceAccount Kubernetes tools will impersonate exists. The Task is judged by the same pure
function as its Ready condition, so a run created together with its Task fails fast with the
words the Task's condition shows. Work that cannot run raises :class:`InvalidRun`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from mission_control.agent import RunRequest
from mission_control.errors import PermanentError
from mission_control.handlers.models import chain_readiness
from mission_control.handlers.services import OperatorServices
from mission_control.resources.clustertoolpolicy import ClusterToolPolicy
from mission_control.resources.task import TaskSpec
from mission_control.resources.taskrun import TaskRunSpec
from mission_control.resources.toolpolicy import ToolPolicySpec
from mission_control.runs.cluster import cluster_approvers, cluster_policies
from mission_control.runs.notify import notify_routes
from mission_control.runs.readiness import task_readiness
from mission_control.runs.resolve import RunPolicy, run_policy, service_account
from mission_control.runs.status import RunReason

__all__ = ["REQUESTED_BY", "InvalidRun", "resolve_run"]

log = logging.getLogger(__name__)

#: Annotation the API server stamps with the TaskRun's creator.
REQUESTED_BY = "missioncontrol.dev/requested-by"
_DEFAULT_POLICY = "default"


class InvalidRun(PermanentError):
    """The run cannot start; ``reason`` is its ``Succeeded`` reason, the message says why."""

    def __init__(self, reason: RunReason, message: str) -> None:
        super().__init__(message)
        self.reason: RunReason = reason
        self.message = message


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "spec"
    return f"{where}: {error['msg']}"


def _timestamp(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


async def resolve_run(raw: Mapping[str, Any], *, services: OperatorServices) -> RunRequest:
    """Everything the loop needs for the TaskRun ``raw``; :class:`InvalidRun` if it cannot run."""
    metadata = raw["metadata"]
    namespace, name = str(metadata["namespace"]), str(metadata["name"])
    try:
        spec = TaskRunSpec.model_validate(raw.get("spec") or {})
    except ValidationError as exc:
        raise InvalidRun(
            "InvalidTask", f"the TaskRun's spec is invalid: {_first_error(exc)}"
        ) from None
    task, task_name, label = await _task(spec, namespace=namespace, services=services)
    policy_name, policy_raw = await _policy(task, namespace=namespace, services=services)
    # The run's own model (if any) is the one that must be configured.
    judged = task.model_copy(update={"model": spec.model or task.model})
    verdict = task_readiness(
        judged,
        capabilities=services.capabilities,
        policy_found=None if task.policy_ref is None else policy_raw is not None,
    )
    if verdict.ready:
        verdict = await chain_readiness(judged.model, services=services) or verdict
    if verdict.reason == "ProviderUnavailable":
        raise InvalidRun("ProviderError", verdict.message)
    if not verdict.ready:
        raise InvalidRun(
            "InvalidTask", f"{label} is not Ready ({verdict.reason}): {verdict.message}"
        )
    policy_spec = _policy_spec(policy_raw, namespace=namespace, name=policy_name)
    policy = _run_policy(policy_spec, raw=policy_raw, namespace=namespace, name=policy_name)
    cluster = await _cluster_policies(services)
    account = service_account(run=spec, task=task, default=services.default_service_account)
    labels = await services.objects.namespace_labels(namespace)
    exists = await services.objects.service_account_exists(namespace, account)
    annotations = metadata.get("annotations") or {}
    return RunRequest(
        namespace=namespace,
        name=name,
        uid=str(metadata["uid"]),
        generation=metadata.get("generation"),
        created_at=_timestamp(metadata["creationTimestamp"]),
        creator=annotations.get(REQUESTED_BY),
        spec=spec,
        task=task,
        task_name=task_name,
        policy=policy,
        cluster_policies=cluster_policies(cluster),
        cluster_approvers=cluster_approvers(cluster),
        namespace_labels=labels,
        service_account=account,
        service_account_exists=exists,
        notify_routes=notify_routes(policy=policy_spec, namespace=namespace, cluster=cluster),
    )


async def _task(
    spec: TaskRunSpec, *, namespace: str, services: OperatorServices
) -> tuple[TaskSpec, str, str]:
    """(the Task's spec, ``NS/NAME`` or ``""`` when inline, how messages name it)."""
    if spec.task_spec is not None:
        return spec.task_spec, "", "the inline taskSpec"
    if spec.task_ref is None:  # the schema and the model require one of them
        raise InvalidRun("InvalidTask", "the TaskRun names no Task: set spec.taskRef or taskSpec")
    name = spec.task_ref.name
    raw = await services.objects.get("tasks", namespace=namespace, name=name)
    if raw is None:
        raise InvalidRun(
            "InvalidTask",
            f"Task {namespace}/{name} not found: create it, or fix spec.taskRef.name",
        )
    try:
        task = TaskSpec.model_validate(raw.get("spec") or {})
    except ValidationError as exc:
        raise InvalidRun(
            "InvalidTask", f"Task {namespace}/{name} is invalid: {_first_error(exc)}"
        ) from None
    return task, f"{namespace}/{name}", f"Task {namespace}/{name}"


async def _policy(
    task: TaskSpec, *, namespace: str, services: OperatorServices
) -> tuple[str, Mapping[str, Any] | None]:
    """The ToolPolicy the run uses: its name and the object (None: absent)."""
    name = task.policy_ref.name if task.policy_ref is not None else _DEFAULT_POLICY
    return name, await services.objects.get("toolpolicies", namespace=namespace, name=name)


async def _cluster_policies(services: OperatorServices) -> list[ClusterToolPolicy]:
    """Every ClusterToolPolicy; one that does not parse grants nothing (and is logged)."""
    parsed = []
    for raw in await services.objects.list_cluster_scoped("clustertoolpolicies"):
        try:
            parsed.append(ClusterToolPolicy.model_validate(raw))
        except ValidationError as exc:
            name = (raw.get("metadata") or {}).get("name")
            log.warning("clustertoolpolicy %s ignored, it does not parse: %s", name, exc)
    return parsed


def _policy_spec(
    raw: Mapping[str, Any] | None, *, namespace: str, name: str
) -> ToolPolicySpec | None:
    if raw is None:
        return None
    try:
        return ToolPolicySpec.model_validate(raw.get("spec") or {})
    except ValidationError as exc:
        raise InvalidRun(
            "InvalidTask", f"ToolPolicy {namespace}/{name} is invalid: {_first_error(exc)}"
        ) from None


def _run_policy(
    spec: ToolPolicySpec | None, *, raw: Mapping[str, Any] | None, namespace: str, name: str
) -> RunPolicy:
    if raw is None or spec is None:
        return run_policy(namespace=namespace, name=None, generation=None, spec=None)
    generation = (raw.get("metadata") or {}).get("generation")
    return run_policy(namespace=namespace, name=name, generation=generation, spec=spec)
