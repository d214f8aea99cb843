"""What a run resolves once at start: its policy inputs, identity, model and approvals.

Pure functions over the resource models the handlers read: they turn a ToolPolicy spec into
what the decisions need (:class:`RunPolicy`), pick the ServiceAccount Kubernetes tools
impersonate, the provider and model, and turn ``spec.approvals`` into approval entries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from mission_control.resources.common import ProviderName
from mission_control.resources.task import TaskSpec
from mission_control.resources.taskrun import Approval, TaskRunSpec
from mission_control.resources.toolpolicy import (
    ApprovalSettings,
    Approver,
    Budgets,
    ToolPolicySpec,
)
from mission_control.runs.approvals import ApprovalEntry
from mission_control.runs.policy import NamespacePolicy, Rule

__all__ = [
    "DEFAULT_APPROVAL_TIMEOUT_SECONDS",
    "DEFAULT_SERVICE_ACCOUNT",
    "RunPolicy",
    "approval_entries",
    "impersonated_user",
    "model_choice",
    "run_policy",
    "service_account",
]

#: How long a held call waits for a decision when the policy does not say (one hour).
DEFAULT_APPROVAL_TIMEOUT_SECONDS = 3600
#: The ServiceAccount Kubernetes tools act as when neither the TaskRun nor the Task names one.
DEFAULT_SERVICE_ACCOUNT = "mission-control-agent"


@dataclass(frozen=True, kw_only=True)
class RunPolicy:
    """The namespace policy of a run, fixed at its start (a policy edited later does not apply).

    ``generation`` is the ToolPolicy's ``metadata.generation`` (None for the built-in default);
    ``approvers`` empty means anyone who may edit the TaskRun may decide.
    """

    decision: NamespacePolicy = field(default_factory=NamespacePolicy)
    generation: int | None = None
    approvers: tuple[Approver, ...] = ()
    required_approvals: int = 1
    forbid_self_approval: bool = False
    approval_timeout_seconds: int = DEFAULT_APPROVAL_TIMEOUT_SECONDS
    budgets: Budgets | None = None


def run_policy(
    *, namespace: str, name: str | None, generation: int | None, spec: ToolPolicySpec | None
) -> RunPolicy:
    """The policy inputs of a ToolPolicy ``namespace/name`` (None: the built-in default)."""
    if spec is None or name is None:
        return RunPolicy()
    defaults = spec.defaults
    decision = NamespacePolicy(
        name=f"{namespace}/{name}",
        rules=tuple(Rule(tools=tuple(rule.tools), action=rule.action) for rule in spec.rules),
        target_namespaces=(
            None if spec.target_namespaces is None else tuple(spec.target_namespaces)
        ),
        target_applications=(
            None if spec.target_applications is None else tuple(spec.target_applications)
        ),
    )
    if defaults is not None:
        decision = dataclasses.replace(
            decision,
            read_only=defaults.read_only,
            safe_mutate=defaults.safe_mutate,
            destructive=defaults.destructive,
        )
    approval = spec.approval or ApprovalSettings()
    return RunPolicy(
        decision=decision,
        generation=generation,
        approvers=tuple(spec.approvers),
        required_approvals=approval.required_approvals,
        forbid_self_approval=approval.forbid_self_approval,
        approval_timeout_seconds=spec.approval_timeout_seconds or DEFAULT_APPROVAL_TIMEOUT_SECONDS,
        budgets=spec.budgets,
    )


def service_account(*, run: TaskRunSpec, task: TaskSpec, default: str) -> str:
    """The ServiceAccount of the run's namespace that Kubernetes tools impersonate."""
    return run.service_account_name or task.service_account_name or default


def impersonated_user(*, namespace: str, service_account_name: str) -> str:
    """The Kubernetes user name of a ServiceAccount, as impersonation needs it."""
    return f"system:serviceaccount:{namespace}:{service_account_name}"


def model_choice(*, run: TaskRunSpec, task: TaskSpec) -> tuple[ProviderName | None, str | None]:
    """(provider, model) the run asks for; None means the configured default."""
    chosen = run.model or task.model
    if chosen is None:
        return None, None
    return chosen.provider, chosen.name


def approval_entries(approvals: Sequence[Approval]) -> tuple[ApprovalEntry, ...]:
    """``spec.approvals`` as the approval evaluation takes them."""
    return tuple(
        ApprovalEntry(
            tool_call_id=approval.tool_call_id,
            decision=approval.decision,
            by=approval.by,
            groups=tuple(approval.groups or ()),
            args_digest=approval.args_digest,
            message=approval.message,
        )
        for approval in approvals
    )
