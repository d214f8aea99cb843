"""The schema of a TaskRun: spec (what to run, approvals) and status (progress, usage)."""

from __future__ import annotations

from mission_control.resources.schemas.parts import (
    array_schema,
    conditions_schema,
    immutable_rule,
    int_schema,
    model_ref_schema,
    object_schema,
    service_account_schema,
    string_schema,
    user_name_schema,
)
from mission_control.resources.schemas.patterns import (
    ARGS_DIGEST,
    COST_TOTAL,
    DNS_SUBDOMAIN,
    IMMUTABLE_RUN_FIELDS,
    MAX_FALLBACKS,
    MAX_GROUPS,
    PARAM_NAME,
    RISKS,
    USER_NAME_MAX,
    Schema,
)
from mission_control.resources.schemas.task import task_spec_schema

__all__ = ["taskrun_properties"]


def taskrun_properties() -> Schema:
    spec_task = task_spec_schema()
    spec_task["description"] = "An inline Task spec; exactly one of taskRef or taskSpec."
    approval = object_schema(
        "A decision on a held tool call. Its by must be your own user name and its groups "
        "among your own groups: the API server rejects approvals given in someone else's "
        "name or groups.",
        {
            "toolCallId": string_schema(
                "The id in status.pendingApproval.toolCallId.", minLength=1, maxLength=64
            ),
            "decision": string_schema("Approve or Reject.", enum=["Approve", "Reject"]),
            "by": user_name_schema("Your Kubernetes user name (kubectl auth whoami)."),
            "groups": array_schema(
                "Optional: your groups (kubectl auth whoami) that make you an approver; each "
                "must be one of the groups your credentials carry.",
                user_name_schema("A group you belong to.", what="your group name"),
                maxItems=MAX_GROUPS,
                **{"x-kubernetes-list-type": "set"},
            ),
            "message": string_schema("Why; shown to the model for a rejection.", maxLength=1024),
            "argsDigest": string_schema(
                "Optional sha256 of the arguments (from "
                "status.pendingApproval.argsDigest) to approve exactly them.",
                pattern=ARGS_DIGEST,
            ),
        },
        required=["toolCallId", "decision", "by"],
    )
    param = object_schema(
        "A value for one of the Task's parameters.",
        {
            "name": string_schema("Parameter name.", minLength=1, maxLength=63, pattern=PARAM_NAME),
            "value": string_schema("Parameter value (plain text).", maxLength=4096),
        },
        required=["name", "value"],
    )
    status_rule = (
        "(has(self.status) ? self.status : '') == (has(oldSelf.status) ? oldSelf.status : '')"
        " || (has(self.status) && self.status == 'Cancelled')"
        " || ((has(oldSelf.status) ? oldSelf.status : '') == 'Pending'"
        " && (has(self.status) ? self.status : '') == '')"
    )
    approvals_rule = (
        "!has(oldSelf.approvals) || (has(self.approvals) && "
        "oldSelf.approvals.all(a, self.approvals.exists(b, b == a)))"
    )
    spec = object_schema(
        "One execution of a Task.",
        {
            "taskRef": object_schema(
                "The Task (same namespace) to run.",
                {
                    "name": string_schema("Task name.", maxLength=253, pattern=DNS_SUBDOMAIN),
                },
                required=["name"],
            ),
            "taskSpec": spec_task,
            "params": array_schema(
                "Values for the Task's parameters.",
                param,
                maxItems=50,
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
            "model": model_ref_schema("Overrides the Task's model."),
            "status": string_schema(
                '"" runs; Pending holds the run until set to ""; Cancelled stops it for good.',
                enum=["", "Pending", "Cancelled"],
            ),
            "statusMessage": string_schema(
                "Why the status was set (shown in events).", maxLength=1024
            ),
            "dryRun": {
                "type": "boolean",
                "description": "Preview mutating tool calls instead of executing them.",
            },
            "serviceAccountName": service_account_schema(
                "Overrides the Task's service account for Kubernetes tools."
            ),
            "approvals": array_schema(
                "Decisions on held tool calls, one per tool call and person (keyed by "
                "toolCallId and by), so several people can approve one call. Add one with "
                "mission-control approve|reject (kubectl mc approve) or a JSON patch.",
                approval,
                maxItems=100,
                **{
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["toolCallId", "by"],
                },
            ),
            "ttlSecondsAfterFinished": int_schema(
                "Delete the TaskRun this long after it finishes (the journal stays).",
                minimum=0,
                maximum=31536000,
            ),
        },
    )
    spec["x-kubernetes-validations"] = [
        {
            "rule": "has(self.taskRef) != has(self.taskSpec)",
            "message": "exactly one of spec.taskRef or spec.taskSpec must be set",
        },
        {
            "rule": status_rule,
            "message": 'spec.status may only change from Pending to "" '
            "(start the run) or to Cancelled; a Cancelled run cannot be restarted, "
            "create a "
            "new TaskRun",
        },
        {
            "rule": approvals_rule,
            "message": "spec.approvals entries cannot be changed or "
            "removed once given; add a new entry instead",
        },
        *(immutable_rule(field) for field in IMMUTABLE_RUN_FIELDS),
    ]
    status = object_schema(
        "Observed state, written by the operator.",
        {
            "observedGeneration": int_schema("The .metadata.generation last acted on.", minimum=0),
            "conditions": conditions_schema(
                "Succeeded: Unknown while pending or running, True or False "
                "when done; reason and message say why."
            ),
            "startTime": string_schema("When the run started.", format="date-time"),
            "traceID": string_schema(
                "OpenTelemetry trace id of the run (32 hex digits), when traces are exported: "
                "search Tempo or Jaeger for it.",
                pattern="^[0-9a-f]{32}$",
            ),
            "completionTime": string_schema(
                "When the run finished.", format="date-time", nullable=True
            ),
            "resolved": object_schema(
                "What the run resolved at start (full snapshot in the journal).",
                {
                    "task": string_schema("Task name, or (inline).", maxLength=253),
                    "provider": string_schema("LLM provider.", maxLength=63),
                    "model": string_schema("Model name.", maxLength=200),
                    "tools": array_schema(
                        "Tools offered to the model.",
                        string_schema("Tool name.", maxLength=63),
                        maxItems=64,
                    ),
                    "policy": string_schema("ToolPolicy name, or (built-in).", maxLength=253),
                    "policyGeneration": int_schema("Generation of the ToolPolicy used.", minimum=0),
                    "chain": array_schema(
                        "The models the run may use, in order: the primary, then its fallbacks.",
                        object_schema(
                            "A model of the chain.",
                            {
                                "provider": string_schema("LLM provider.", maxLength=63),
                                "model": string_schema("Model name.", maxLength=200),
                            },
                        ),
                        maxItems=MAX_FALLBACKS + 1,
                    ),
                },
            ),
            "steps": int_schema("LLM turns so far.", minimum=0),
            "toolCalls": int_schema("Tool calls so far.", minimum=0),
            "usage": object_schema(
                "Tokens and cost so far.",
                {
                    "promptTokens": int_schema("Prompt tokens.", minimum=0),
                    "completionTokens": int_schema("Completion tokens.", minimum=0),
                    "totalTokens": int_schema("Prompt plus completion tokens.", minimum=0),
                    "costUSD": string_schema(
                        "Cost in US dollars (decimal string).", pattern=COST_TOTAL
                    ),
                    "byModel": array_schema(
                        "Per model that answered (at most the models of the chain).",
                        object_schema(
                            "Usage of one model, its cost at that model's price.",
                            {
                                "provider": string_schema("LLM provider.", maxLength=63),
                                "model": string_schema("Model name.", maxLength=200),
                                "requests": int_schema("Requests it answered.", minimum=0),
                                "promptTokens": int_schema("Prompt tokens.", minimum=0),
                                "completionTokens": int_schema("Completion tokens.", minimum=0),
                                "costUSD": string_schema(
                                    "Cost in US dollars (decimal string).", pattern=COST_TOTAL
                                ),
                            },
                        ),
                        maxItems=MAX_FALLBACKS + 1,
                    ),
                },
            ),
            "pendingApproval": object_schema(
                "The tool call waiting for a decision, if any.",
                {
                    "toolCallId": string_schema("Id to use in spec.approvals.", maxLength=64),
                    "tool": string_schema("Tool name.", maxLength=63),
                    "risk": string_schema("READ_ONLY, SAFE_MUTATE or DESTRUCTIVE.", enum=RISKS),
                    "arguments": string_schema(
                        "The call's arguments as JSON (at most 2 KiB).", maxLength=2048
                    ),
                    "argsDigest": string_schema("sha256 of the arguments.", pattern=ARGS_DIGEST),
                    "requestedAt": string_schema(
                        "When approval was requested.", format="date-time"
                    ),
                    "expiresAt": string_schema(
                        "When the run ends with ApprovalTimedOut.", format="date-time"
                    ),
                },
                nullable=True,
            ),
            "approvals": array_schema(
                "Decisions the operator applied.",
                object_schema(
                    "An applied decision.",
                    {
                        "toolCallId": string_schema("Tool call id.", maxLength=64),
                        "decision": string_schema("Approve or Reject.", enum=["Approve", "Reject"]),
                        "by": string_schema("Who decided.", maxLength=USER_NAME_MAX),
                        "at": string_schema("When it was applied.", format="date-time"),
                    },
                ),
                maxItems=100,
            ),
            "result": object_schema(
                "The outcome.",
                {
                    "summary": string_schema(
                        "The agent's final answer (at most 8 KiB).", maxLength=8192
                    ),
                },
            ),
        },
    )
    return {"spec": spec, "status": status}
