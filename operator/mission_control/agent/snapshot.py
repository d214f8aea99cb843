"""What a run resolved at its start: the full snapshot for the store, the summary for status.

The snapshot fixes the Task, the policy (with its generation) and the cluster policies the
run obeys, so a policy edited mid-run does not change a running run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from mission_control.agent.context import RunContext
from mission_control.agent.request import RunRequest
from mission_control.store.records import RunSnapshot

__all__ = ["resolved_spec", "resolved_status", "run_snapshot"]


def run_snapshot(
    request: RunRequest,
    *,
    provider: str,
    model: str,
    reason: str,
    start_time: dt.datetime | None = None,
) -> RunSnapshot:
    """The ``task_runs`` row of the run, with its resolved spec in full."""
    return RunSnapshot(
        uid=request.uid,
        namespace=request.namespace,
        name=request.name,
        task_name=request.task_name,
        spec=resolved_spec(request),
        provider=provider,
        model=model,
        reason=reason,
        created_at=request.created_at,
        start_time=start_time,
    )


def resolved_status(ctx: RunContext) -> dict[str, Any]:
    """``status.resolved``: a summary of the snapshot."""
    policy = ctx.request.policy
    return {
        "task": ctx.task_label[:253],
        "provider": ctx.client.name,
        "model": ctx.model[:200],
        "tools": list(ctx.offered),
        "policy": policy.decision.name,
        "policyGeneration": policy.generation,
        "chain": [
            {"provider": link.provider, "model": link.model[:200]} for link in ctx.chain.links
        ],
    }


def resolved_spec(request: RunRequest) -> dict[str, Any]:
    """The run's Task, policy and identity as resolved at its start (JSON)."""
    policy = request.policy
    decision = policy.decision
    return {
        "taskRun": request.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        "task": request.task.model_dump(mode="json", by_alias=True, exclude_none=True),
        "taskName": request.task_name,
        "serviceAccount": request.service_account,
        "creator": request.creator,
        "policy": {
            "name": decision.name,
            "generation": policy.generation,
            "rules": [{"tools": list(r.tools), "action": r.action} for r in decision.rules],
            "defaults": {
                "readOnly": decision.read_only,
                "safeMutate": decision.safe_mutate,
                "destructive": decision.destructive,
            },
            "targetNamespaces": _listed(decision.target_namespaces),
            "targetApplications": _listed(decision.target_applications),
            "approvers": [a.model_dump(mode="json", by_alias=True) for a in policy.approvers],
            "requiredApprovals": policy.required_approvals,
            "forbidSelfApproval": policy.forbid_self_approval,
            "approvalTimeoutSeconds": policy.approval_timeout_seconds,
            "budgets": (
                None
                if policy.budgets is None
                else policy.budgets.model_dump(mode="json", by_alias=True, exclude_none=True)
            ),
        },
        "clusterPolicies": [
            _json(dataclasses.asdict(cluster)) for cluster in request.cluster_policies
        ],
        "clusterApprovers": [
            a.model_dump(mode="json", by_alias=True) for a in request.cluster_approvers
        ],
        "namespaceLabels": dict(request.namespace_labels),
    }


def _listed(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)


def _json(value: Any) -> Any:
    """Tuples and frozensets of a dataclass tree as JSON lists."""
    if isinstance(value, dict):
        return {str(key): _json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        return [_json(item) for item in value]
    return value
