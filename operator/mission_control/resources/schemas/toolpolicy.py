"""The schema of a ToolPolicy: rules, defaults, targets, approvers, quorum, budgets.

The rule, approver and glob pieces are shared with the ClusterToolPolicy.
"""

from __future__ import annotations

from mission_control.resources.schemas.notify import notify_schema
from mission_control.resources.schemas.parts import (
    array_schema,
    cel_rule,
    conditions_schema,
    int_schema,
    object_schema,
    string_schema,
    user_name_schema,
)
from mission_control.resources.schemas.patterns import (
    ACTIONS,
    APP_GLOB,
    DECIMAL_USD,
    MAX_REQUIRED_APPROVALS,
    NAMESPACE_GLOB,
    TOOL_GLOB,
    Schema,
)

__all__ = [
    "app_globs_schema",
    "approvers_schema",
    "policy_status_schema",
    "rules_schema",
    "tool_globs_schema",
    "toolpolicy_properties",
]


def _glob(description: str, pattern: str, *, what: str, alphabet: str) -> Schema:
    article = "an" if what[0] in "aeiou" else "a"
    return string_schema(
        description,
        minLength=1,
        maxLength=63,
        **{
            "x-kubernetes-validations": [
                cel_rule(
                    f"self.matches(r'{pattern}')",
                    f"{article} {what} glob may only use {alphabet}, * and ?; {what} names "
                    "have no other characters, so it could never match",
                )
            ]
        },
    )


def tool_globs_schema(description: str) -> Schema:
    return array_schema(
        description,
        _glob("Glob.", TOOL_GLOB, what="tool", alphabet="lowercase letters, digits, '_'"),
        minItems=1,
        maxItems=64,
    )


def app_globs_schema(description: str) -> Schema:
    return array_schema(
        description,
        _glob(
            "Application name glob: lowercase letters, digits, '-' and '.', with * and ?.",
            APP_GLOB,
            what="application",
            alphabet="lowercase letters, digits, '-', '.'",
        ),
        maxItems=100,
        **{"x-kubernetes-list-type": "set"},
    )


def rules_schema(description: str) -> Schema:
    rule = object_schema(
        "Tools matching any glob get the action.",
        {
            "tools": tool_globs_schema(
                "Tool name globs, e.g. delete_* or restart_proxmox_lxc: lowercase letters, "
                "digits and '_', with * for any characters and ? for one."
            ),
            "action": string_schema("Allow, Deny or RequireApproval.", enum=ACTIONS),
            "description": string_schema("Why this rule exists.", maxLength=1024),
        },
        required=["tools", "action"],
    )
    return array_schema(description, rule, maxItems=100)


def approvers_schema(description: str) -> Schema:
    return array_schema(
        description,
        object_schema(
            "A user or group.",
            {
                "kind": string_schema("User or Group.", enum=["User", "Group"]),
                "name": user_name_schema("User or group name.", what="a user or group name"),
            },
            required=["kind", "name"],
        ),
        maxItems=50,
    )


def policy_status_schema() -> Schema:
    return object_schema(
        "Observed state, written by the operator.",
        {
            "observedGeneration": int_schema("The .metadata.generation last validated.", minimum=0),
            "conditions": conditions_schema("Ready says whether the policy is valid."),
        },
    )


def toolpolicy_properties() -> Schema:
    action = string_schema("Allow, Deny or RequireApproval.", enum=ACTIONS)
    budgets = object_schema(
        "Spend limits; exceeding one ends the run with LimitExceeded. Per-day "
        "budgets are namespace-wide.",
        {
            "maxTokensPerRun": int_schema("Tokens per run.", minimum=1, maximum=100_000_000),
            "maxCostUSDPerRun": string_schema(
                "US dollars per run (decimal string).", pattern=DECIMAL_USD
            ),
            "maxTokensPerDay": int_schema(
                "Tokens per day in this namespace.", minimum=1, maximum=10_000_000_000
            ),
            "maxCostUSDPerDay": string_schema(
                "US dollars per day in this namespace.", pattern=DECIMAL_USD
            ),
        },
    )
    approval = object_schema(
        "How many people must approve a held call, and whether the run's creator may.",
        {
            "requiredApprovals": int_schema(
                f"Distinct approvers needed for a held call (1-{MAX_REQUIRED_APPROVALS}, "
                "default 1). A single valid Reject rejects the call.",
                minimum=1,
                maximum=MAX_REQUIRED_APPROVALS,
            ),
            "forbidSelfApproval": {
                "type": "boolean",
                "description": "Four-eyes: the person who created the TaskRun (the "
                "missioncontrol.dev/requested-by annotation the API server stamps) cannot "
                "approve its calls. Default false.",
            },
        },
    )
    spec = object_schema(
        "What tool calls may do. Within the ceiling the cluster's ClusterToolPolicies set: "
        "a namespace policy can only narrow it.",
        {
            "rules": rules_schema("Ordered rules; the first whose tools match decides."),
            "defaults": object_schema(
                "Decision by risk level when no rule matches.",
                {
                    "readOnly": {**action, "description": "For READ_ONLY tools (default Allow)."},
                    "safeMutate": {
                        **action,
                        "description": "For SAFE_MUTATE tools (default Allow).",
                    },
                    "destructive": {
                        **action,
                        "description": "For DESTRUCTIVE tools (default RequireApproval).",
                    },
                },
            ),
            "targetNamespaces": array_schema(
                "Namespace globs Kubernetes tools may touch; default: the "
                "TaskRun's namespace only.",
                _glob(
                    "Namespace glob: lowercase letters, digits and '-', with * and ?.",
                    NAMESPACE_GLOB,
                    what="namespace",
                    alphabet="lowercase letters, digits, '-'",
                ),
                maxItems=100,
                **{"x-kubernetes-list-type": "set"},
            ),
            "targetApplications": app_globs_schema(
                "Argo CD application name globs the tools may touch; default: every "
                "application the ClusterToolPolicies grant."
            ),
            "approvers": approvers_schema(
                "Who may decide held calls (joined with the ClusterToolPolicies' approvers); "
                "empty: anyone allowed to edit the TaskRun."
            ),
            "approval": approval,
            "approvalTimeoutSeconds": int_schema(
                "How long a held call waits before the run ends with "
                "ApprovalTimedOut (60-604800, default 3600).",
                minimum=60,
                maximum=604800,
            ),
            "budgets": budgets,
            "notify": notify_schema(),
        },
    )
    return {"spec": spec, "status": policy_status_schema()}
