"""Pure decisions for a run: policy, budgets, approvals, params, status and conditions; no I/O.

Everything here is a function of its arguments: no clock (times are passed in), no Kubernetes,
no database, no provider, no tool code. Inputs are small frozen dataclasses (or the resource
models, where they carry exactly what is needed) that the handlers build from the objects they
read; outputs are values and the project's own errors. Import-linter keeps it that way.

- :mod:`~mission_control.runs.policy`: :func:`decide` one tool call (allow, hold, deny, preview).
- :mod:`~mission_control.runs.approvals`: :func:`args_digest` and :func:`evaluate` a held call's
  approvals (quorum, four-eyes, attested groups).
- :mod:`~mission_control.runs.params`: ``$(params.NAME)`` substitution.
- :mod:`~mission_control.runs.limits`: effective limits and the check before each LLM request.
- :mod:`~mission_control.runs.status`: the ``Succeeded`` condition, the status patch, Events.
- :mod:`~mission_control.runs.prompt`: the built-in system prompt.
"""

from __future__ import annotations

from mission_control.runs.approvals import (
    ApprovalEntry,
    ApprovalOutcome,
    IgnoredApproval,
    PendingCall,
    args_digest,
    canonical_json,
    evaluate,
)
from mission_control.runs.limits import EffectiveLimits, LimitExceeded, Spent, check, effective
from mission_control.runs.params import InvalidParams, substitute
from mission_control.runs.policy import (
    TARGET_ARGUMENTS,
    ClusterPolicy,
    Decision,
    Grant,
    NamespacePolicy,
    Rule,
    RunScope,
    ToolCall,
    decide,
    sync_risk,
)
from mission_control.runs.prompt import system_prompt
from mission_control.runs.selectors import NamespaceSelector, SelectorRequirement
from mission_control.runs.status import (
    Pending,
    RunReason,
    StepCounts,
    build_status_patch,
    succeeded_condition,
    transition_event,
    truncate_utf8,
)

__all__ = [
    "TARGET_ARGUMENTS",
    "ApprovalEntry",
    "ApprovalOutcome",
    "ClusterPolicy",
    "Decision",
    "EffectiveLimits",
    "Grant",
    "IgnoredApproval",
    "InvalidParams",
    "LimitExceeded",
    "NamespacePolicy",
    "NamespaceSelector",
    "Pending",
    "PendingCall",
    "Rule",
    "RunReason",
    "RunScope",
    "SelectorRequirement",
    "Spent",
    "StepCounts",
    "ToolCall",
    "args_digest",
    "build_status_patch",
    "canonical_json",
    "check",
    "decide",
    "effective",
    "evaluate",
    "substitute",
    "succeeded_condition",
    "sync_risk",
    "system_prompt",
    "transition_event",
    "truncate_utf8",
]
