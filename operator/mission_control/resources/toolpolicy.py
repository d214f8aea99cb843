"""The ToolPolicy resource: what tool calls may do."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mission_control.resources.common import (
    Condition,
    KubernetesObject,
    Metadata,
    Resource,
    UsdAmount,
)

__all__ = [
    "Action",
    "Approver",
    "Budgets",
    "PolicyDefaults",
    "PolicyRule",
    "ToolPolicy",
    "ToolPolicySpec",
    "ToolPolicyStatus",
]

Action = Literal["Allow", "Deny", "RequireApproval"]
Glob = str


class PolicyRule(Resource):
    """Tools matching any glob get ``action``; the first matching rule wins."""

    tools: list[Glob] = Field(min_length=1, max_length=64)
    action: Action
    description: str | None = Field(default=None, max_length=1024)


class PolicyDefaults(Resource):
    """Decision by risk level when no rule matches (the built-in defaults when unset)."""

    read_only: Action = "Allow"
    safe_mutate: Action = "Allow"
    destructive: Action = "RequireApproval"


class Approver(Resource):
    """A user or group allowed to decide held calls."""

    kind: Literal["User", "Group"]
    name: str = Field(min_length=1, max_length=253)


class Budgets(Resource):
    """Spend limits; per-day budgets are namespace-wide."""

    max_tokens_per_run: int | None = Field(default=None, ge=1, le=100_000_000)
    max_cost_usd_per_run: UsdAmount | None = Field(default=None, alias="maxCostUSDPerRun")
    max_tokens_per_day: int | None = Field(default=None, ge=1, le=10_000_000_000)
    max_cost_usd_per_day: UsdAmount | None = Field(default=None, alias="maxCostUSDPerDay")


class ToolPolicySpec(Resource):
    """A ToolPolicy's spec."""

    rules: list[PolicyRule] = Field(default_factory=list, max_length=100)
    defaults: PolicyDefaults | None = None
    target_namespaces: list[str] | None = Field(default=None, max_length=100)
    approvers: list[Approver] = Field(default_factory=list, max_length=50)
    approval_timeout_seconds: int | None = Field(default=None, ge=60, le=604800)
    budgets: Budgets | None = None


class ToolPolicyStatus(Resource):
    """Observed state of a ToolPolicy."""

    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)


class ToolPolicy(KubernetesObject):
    """A ToolPolicy object."""

    api_version: Literal["missioncontrol.dev/v1alpha1"] = "missioncontrol.dev/v1alpha1"
    kind: Literal["ToolPolicy"] = "ToolPolicy"
    metadata: Metadata
    spec: ToolPolicySpec
    status: ToolPolicyStatus | None = None
