"""The schema of a ToolPolicy: rules, defaults, target namespaces, approvers, budgets."""

from __future__ import annotations

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
    DECIMAL_USD,
    NAMESPACE_GLOB,
    TOOL_GLOB,
    Schema,
)

__all__ = ["toolpolicy_properties"]


def toolpolicy_properties() -> Schema:
    action = string_schema("Allow, Deny or RequireApproval.", enum=ACTIONS)
    rule = object_schema(
        "Tools matching any glob get the action; first matching rule wins.",
        {
            "tools": array_schema(
                "Tool name globs, e.g. delete_* or restart_proxmox_lxc: lowercase letters, "
                "digits and '_', with * for any characters and ? for one.",
                string_schema(
                    "Glob.",
                    minLength=1,
                    maxLength=63,
                    **{
                        "x-kubernetes-validations": [
                            cel_rule(
                                f"self.matches(r'{TOOL_GLOB}')",
                                "a tool glob may only use lowercase letters, digits, '_', "
                                "* and ?; tool names have no other characters, so it "
                                "could never match",
                            )
                        ]
                    },
                ),
                minItems=1,
                maxItems=64,
            ),
            "action": action,
            "description": string_schema("Why this rule exists.", maxLength=1024),
        },
        required=["tools", "action"],
    )
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
    spec = object_schema(
        "What tool calls may do.",
        {
            "rules": array_schema(
                "Ordered rules; the first whose tools match decides.", rule, maxItems=100
            ),
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
                string_schema(
                    "Namespace glob: lowercase letters, digits and '-', with * and ?.",
                    minLength=1,
                    maxLength=63,
                    **{
                        "x-kubernetes-validations": [
                            cel_rule(
                                f"self.matches(r'{NAMESPACE_GLOB}')",
                                "a namespace glob may only use lowercase letters, digits, "
                                "'-', * and ?; namespace names have no other characters, so "
                                "it could never match",
                            )
                        ]
                    },
                ),
                maxItems=100,
                **{"x-kubernetes-list-type": "set"},
            ),
            "approvers": array_schema(
                "Who may decide held calls; empty: anyone allowed to edit the TaskRun.",
                object_schema(
                    "A user or group.",
                    {
                        "kind": string_schema("User or Group.", enum=["User", "Group"]),
                        "name": user_name_schema(
                            "User or group name.", what="a user or group name"
                        ),
                    },
                    required=["kind", "name"],
                ),
                maxItems=50,
            ),
            "approvalTimeoutSeconds": int_schema(
                "How long a held call waits before the run ends with "
                "ApprovalTimedOut (60-604800, default 3600).",
                minimum=60,
                maximum=604800,
            ),
            "budgets": budgets,
        },
    )
    return {
        "spec": spec,
        "status": object_schema(
            "Observed state, written by the operator.",
            {
                "observedGeneration": int_schema(
                    "The .metadata.generation last validated.", minimum=0
                ),
                "conditions": conditions_schema("Ready says whether the policy is valid."),
            },
        ),
    }
