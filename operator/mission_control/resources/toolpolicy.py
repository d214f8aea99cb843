"""The ToolPolicy resource: what tool calls may do."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from mission_control.resources.common import (
    Condition,
    KubernetesObject,
    Metadata,
    Resource,
    UsdAmount,
    UserName,
    require_unique,
)
from mission_control.resources.notify import Notify
from mission_control.resources.schemas import patterns

__all__ = [
    "Action",
    "AppGlob",
    "ApprovalSettings",
    "Approver",
    "Budgets",
    "PolicyDefaults",
    "PolicyRule",
    "ToolGlob",
    "ToolPolicy",
    "ToolPolicySpec",
    "ToolPolicyStatus",
]

Action = Literal["Allow", "Deny", "RequireApproval"]
ToolGlob = Annotated[str, Field(min_length=1, max_length=63, pattern=patterns.TOOL_GLOB)]
NamespaceGlob = Annotated[str, Field(min_length=1, max_length=63, pattern=patterns.NAMESPACE_GLOB)]
AppGlob = Annotated[str, Field(min_length=1, max_length=63, pattern=patterns.APP_GLOB)]


class PolicyRule(Resource):
    """Tools matching any glob get ``action``; the first matching rule wins."""

    tools: list[ToolGlob] = Field(min_length=1, max_length=64)
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
    name: UserName


class ApprovalSettings(Resource):
    """Quorum of distinct approvers, and four-eyes (the run's creator cannot approve)."""

    required_approvals: int = Field(default=1, ge=1, le=patterns.MAX_REQUIRED_APPROVALS)
    forbid_self_approval: bool = False


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
    target_namespaces: list[NamespaceGlob] | None = Field(default=None, max_length=100)
    target_applications: list[AppGlob] | None = Field(default=None, max_length=100)
    approvers: list[Approver] = Field(default_factory=list, max_length=50)
    approval: ApprovalSettings | None = None
    approval_timeout_seconds: int | None = Field(default=None, ge=60, le=604800)
    budgets: Budgets | None = None
    notify: Notify | None = None

    @field_validator("target_namespaces")
    @classmethod
    def _unique_namespaces(cls, globs: list[str] | None) -> list[str] | None:
        require_unique(globs or [], what="targetNamespaces")
        return globs

    @field_validator("target_applications")
    @classmethod
    def _unique_applications(cls, globs: list[str] | None) -> list[str] | None:
        require_unique(globs or [], what="targetApplications")
        return globs


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
