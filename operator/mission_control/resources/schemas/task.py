"""The schema of a Task: its spec (also a TaskRun's inline ``taskSpec``) and status."""

from __future__ import annotations

from mission_control.resources.schemas.parts import (
    array_schema,
    cel_rule,
    conditions_schema,
    int_schema,
    model_ref_schema,
    object_schema,
    service_account_schema,
    string_schema,
)
from mission_control.resources.schemas.patterns import (
    DECIMAL_USD,
    DNS_SUBDOMAIN,
    PARAM_NAME,
    TOOL_NAME,
    Schema,
)

__all__ = ["task_properties", "task_spec_schema"]


def task_spec_schema() -> Schema:
    """The schema of a Task's spec, also used inline as a TaskRun's ``spec.taskSpec``."""
    param = object_schema(
        "A parameter of the prompt, referenced as $(params.NAME).",
        {
            "name": string_schema(
                "Parameter name (letters, digits, '_' and '-', starting with a letter or '_').",
                minLength=1,
                maxLength=63,
                pattern=PARAM_NAME,
            ),
            "description": string_schema("What the parameter means.", maxLength=1024),
            "default": string_schema("Value used when a TaskRun gives none.", maxLength=4096),
        },
        required=["name"],
    )
    limits = object_schema(
        "Bounds of one run; the operator stops the run with LimitExceeded or TimedOut.",
        {
            "maxSteps": int_schema("Most LLM turns (1-200). Default 10.", minimum=1, maximum=200),
            "timeoutSeconds": int_schema(
                "Most active seconds, not counting time awaiting approval (10-86400). Default 600.",
                minimum=10,
                maximum=86400,
            ),
            "maxTokens": int_schema(
                "Most prompt plus completion tokens (1-10000000).", minimum=1, maximum=10_000_000
            ),
            "maxCostUSD": string_schema(
                'Most spend in US dollars, as a decimal string such as "0.50".', pattern=DECIMAL_USD
            ),
        },
    )
    return object_schema(
        "What the agent should do, with which tools and model, within which limits.",
        {
            "description": string_schema("A short human description of the task.", maxLength=1024),
            "prompt": string_schema(
                "The instructions for the agent (1-20000 characters). "
                "$(params.NAME) placeholders are replaced by parameter values as "
                "plain text.",
                minLength=1,
                maxLength=20000,
                **{
                    "x-kubernetes-validations": [
                        cel_rule(
                            "self.trim() != ''",
                            "must contain instructions for the agent, not only whitespace",
                        )
                    ]
                },
            ),
            "systemPrompt": string_schema(
                "Extra system instructions, appended to the built-in system prompt.",
                maxLength=20000,
            ),
            "params": array_schema(
                "Parameters of the prompt.",
                param,
                maxItems=50,
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
            "model": model_ref_schema(
                "The model to use; the operator's default provider and model when omitted."
            ),
            "tools": array_schema(
                "Names of the tools the agent may call (at least one), e.g. list_k8s_pods.",
                string_schema("A registered tool name.", maxLength=63, pattern=TOOL_NAME),
                minItems=1,
                maxItems=64,
                **{"x-kubernetes-list-type": "set"},
            ),
            "policyRef": object_schema(
                "The ToolPolicy in the same namespace that governs tool calls; "
                "the policy named default, else the built-in one, when omitted.",
                {"name": string_schema("ToolPolicy name.", maxLength=253, pattern=DNS_SUBDOMAIN)},
                required=["name"],
            ),
            "serviceAccountName": service_account_schema(
                "Service account (same namespace) that Kubernetes tools impersonate."
            ),
            "limits": limits,
        },
        required=["prompt", "tools"],
    )


def task_properties() -> Schema:
    return {
        "spec": task_spec_schema(),
        "status": object_schema(
            "Observed state, written by the operator.",
            {
                "observedGeneration": int_schema(
                    "The .metadata.generation last validated.", minimum=0
                ),
                "conditions": conditions_schema(
                    "Ready says whether the task is valid (e.g. UnknownTool)."
                ),
            },
        ),
    }
