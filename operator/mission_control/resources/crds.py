"""The CustomResourceDefinitions of ``missioncontrol.dev/v1alpha1``, as data.

``crds/*.yaml`` is what users install; it is generated from this module
(``make crds``) so that the inline ``taskSpec`` of a TaskRun and the ``spec`` of a Task
share one schema. A test keeps the files and this module in step. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GROUP", "VERSION", "all_crds"]

GROUP = "missioncontrol.dev"
VERSION = "v1alpha1"
Schema = dict[str, Any]

DECIMAL_USD = r"^[0-9]{1,6}(\.[0-9]{1,6})?$"
# Running totals are exact sums of per-token prices, so they carry more decimals than a limit.
COST_TOTAL = r"^[0-9]{1,12}(\.[0-9]{1,18})?$"
ARGS_DIGEST = r"^sha256:[0-9a-f]{64}$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
PARAM_NAME = r"^[A-Za-z_][A-Za-z0-9_-]*$"
TOOL_NAME = r"^[a-z][a-z0-9_]*$"
# Globs use only what a name they are meant to match can contain, plus * and ?: anything else
# (upper case, spaces, brackets) would make a rule or namespace entry that never matches.
TOOL_GLOB = r"^[a-z0-9_*?]+$"
NAMESPACE_GLOB = r"^[a-z0-9*?-]+$"
NO_SPACE = r"^[^\t\n\f\r ]+$"  # RE2's \s, spelled out so Python agrees
RISKS = ["READ_ONLY", "SAFE_MUTATE", "DESTRUCTIVE"]
#: Longest user name an approval or approver can carry: service-account user names
#: (system:serviceaccount:NAMESPACE:NAME) reach 339 characters, OIDC ones can be longer.
USER_NAME_MAX = 1024
#: Fields of a TaskRun's spec that say what the run does: fixed once it exists.
IMMUTABLE_RUN_FIELDS = ("taskRef", "taskSpec", "params", "model", "dryRun", "serviceAccountName")
ACTIONS = ["Allow", "Deny", "RequireApproval"]


def _string(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, **extra}


def _int(description: str, **extra: Any) -> Schema:
    return {"type": "integer", "format": "int64", "description": description, **extra}


def _object(
    description: str, properties: Schema, *, required: list[str] | None = None, **extra: Any
) -> Schema:
    schema: Schema = {"type": "object", "description": description, "properties": properties}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def _array(description: str, items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "description": description, "items": items, **extra}


def _rule(rule: str, message: str, **extra: str) -> Schema:
    return {"rule": rule, "message": message, **extra}


def _immutable_rule(field: str) -> Schema:
    # On the spec, not on the field: a rule on the field itself only runs when the old and the
    # new object both have it, so removing dryRun or serviceAccountName (or swapping taskRef
    # for taskSpec) would slip through.
    return _rule(
        f"has(self.{field}) == has(oldSelf.{field})"
        f" && (!has(self.{field}) || self.{field} == oldSelf.{field})",
        f"spec.{field} is immutable once the run exists: it cannot be set, changed or "
        "removed; create a new TaskRun instead",
        fieldPath=f".{field}",
    )


def _user_name(description: str, *, what: str = "your user name") -> Schema:
    return _string(
        description,
        minLength=1,
        maxLength=USER_NAME_MAX,
        **{
            "x-kubernetes-validations": [
                _rule(
                    "self == self.trim()",
                    f"must be {what} exactly, without leading or trailing spaces"
                    " (kubectl auth whoami prints yours)",
                )
            ]
        },
    )


def _conditions(description: str) -> Schema:
    condition = _object(
        "A condition in the Kubernetes API conventions.",
        {
            "type": _string("Condition type, e.g. Succeeded or Ready.", maxLength=316),
            "status": _string("True, False or Unknown.", enum=["True", "False", "Unknown"]),
            "reason": _string("One CamelCase word saying why.", maxLength=1024),
            "message": _string("What happened, in words a user can act on.", maxLength=32768),
            "lastTransitionTime": _string("When status last changed.", format="date-time"),
            "observedGeneration": _int("The .metadata.generation this was set for.", minimum=0),
        },
        required=["type", "status"],
    )
    return _array(
        description,
        condition,
        **{
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
            "maxItems": 16,
        },
    )


def _model_ref(description: str) -> Schema:
    return _object(
        description,
        {
            "provider": _string("LLM provider.", enum=["ollama", "gemini", "anthropic"]),
            "name": _string(
                "Model name as the provider knows it, e.g. llama3.1 or gemini-2.0-flash "
                "(no spaces).",
                minLength=1,
                maxLength=200,
                **{
                    "x-kubernetes-validations": [
                        _rule(
                            f"self.matches(r'{NO_SPACE}')",
                            "a model name has no spaces, e.g. llama3.1 or gemini-2.0-flash",
                        )
                    ]
                },
            ),
        },
        required=["provider"],
    )


def _service_account(description: str) -> Schema:
    return _string(description, maxLength=253, pattern=DNS_SUBDOMAIN)


def task_spec_schema() -> Schema:
    """The schema of a Task's spec, also used inline as a TaskRun's ``spec.taskSpec``."""
    param = _object(
        "A parameter of the prompt, referenced as $(params.NAME).",
        {
            "name": _string(
                "Parameter name (letters, digits, '_' and '-', starting with a letter or '_').",
                minLength=1,
                maxLength=63,
                pattern=PARAM_NAME,
            ),
            "description": _string("What the parameter means.", maxLength=1024),
            "default": _string("Value used when a TaskRun gives none.", maxLength=4096),
        },
        required=["name"],
    )
    limits = _object(
        "Bounds of one run; the operator stops the run with LimitExceeded or TimedOut.",
        {
            "maxSteps": _int("Most LLM turns (1-200). Default 10.", minimum=1, maximum=200),
            "timeoutSeconds": _int(
                "Most active seconds, not counting time awaiting approval (10-86400). Default 600.",
                minimum=10,
                maximum=86400,
            ),
            "maxTokens": _int(
                "Most prompt plus completion tokens (1-10000000).", minimum=1, maximum=10_000_000
            ),
            "maxCostUSD": _string(
                'Most spend in US dollars, as a decimal string such as "0.50".', pattern=DECIMAL_USD
            ),
        },
    )
    return _object(
        "What the agent should do, with which tools and model, within which limits.",
        {
            "description": _string("A short human description of the task.", maxLength=1024),
            "prompt": _string(
                "The instructions for the agent (1-20000 characters). "
                "$(params.NAME) placeholders are replaced by parameter values as "
                "plain text.",
                minLength=1,
                maxLength=20000,
                **{
                    "x-kubernetes-validations": [
                        _rule(
                            "self.trim() != ''",
                            "must contain instructions for the agent, not only whitespace",
                        )
                    ]
                },
            ),
            "systemPrompt": _string(
                "Extra system instructions, appended to the built-in system prompt.",
                maxLength=20000,
            ),
            "params": _array(
                "Parameters of the prompt.",
                param,
                maxItems=50,
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
            "model": _model_ref(
                "The model to use; the operator's default provider and model when omitted."
            ),
            "tools": _array(
                "Names of the tools the agent may call (at least one), e.g. list_k8s_pods.",
                _string("A registered tool name.", maxLength=63, pattern=TOOL_NAME),
                minItems=1,
                maxItems=64,
                **{"x-kubernetes-list-type": "set"},
            ),
            "policyRef": _object(
                "The ToolPolicy in the same namespace that governs tool calls; "
                "the policy named default, else the built-in one, when omitted.",
                {"name": _string("ToolPolicy name.", maxLength=253, pattern=DNS_SUBDOMAIN)},
                required=["name"],
            ),
            "serviceAccountName": _service_account(
                "Service account (same namespace) that Kubernetes tools impersonate."
            ),
            "limits": limits,
        },
        required=["prompt", "tools"],
    )


def _task() -> Schema:
    return {
        "spec": task_spec_schema(),
        "status": _object(
            "Observed state, written by the operator.",
            {
                "observedGeneration": _int("The .metadata.generation last validated.", minimum=0),
                "conditions": _conditions(
                    "Ready says whether the task is valid (e.g. UnknownTool)."
                ),
            },
        ),
    }


def _taskrun() -> Schema:
    spec_task = task_spec_schema()
    spec_task["description"] = "An inline Task spec; exactly one of taskRef or taskSpec."
    approval = _object(
        "A decision on a held tool call. Its by must be your own user name: the API server "
        "rejects approvals given in someone else's name.",
        {
            "toolCallId": _string(
                "The id in status.pendingApproval.toolCallId.", minLength=1, maxLength=64
            ),
            "decision": _string("Approve or Reject.", enum=["Approve", "Reject"]),
            "by": _user_name("Your Kubernetes user name (kubectl auth whoami)."),
            "message": _string("Why; shown to the model for a rejection.", maxLength=1024),
            "argsDigest": _string(
                "Optional sha256 of the arguments (from "
                "status.pendingApproval.argsDigest) to approve exactly them.",
                pattern=ARGS_DIGEST,
            ),
        },
        required=["toolCallId", "decision", "by"],
    )
    param = _object(
        "A value for one of the Task's parameters.",
        {
            "name": _string("Parameter name.", minLength=1, maxLength=63, pattern=PARAM_NAME),
            "value": _string("Parameter value (plain text).", maxLength=4096),
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
    spec = _object(
        "One execution of a Task.",
        {
            "taskRef": _object(
                "The Task (same namespace) to run.",
                {
                    "name": _string("Task name.", maxLength=253, pattern=DNS_SUBDOMAIN),
                },
                required=["name"],
            ),
            "taskSpec": spec_task,
            "params": _array(
                "Values for the Task's parameters.",
                param,
                maxItems=50,
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
            "model": _model_ref("Overrides the Task's model."),
            "status": _string(
                '"" runs; Pending holds the run until set to ""; Cancelled stops it for good.',
                enum=["", "Pending", "Cancelled"],
            ),
            "statusMessage": _string("Why the status was set (shown in events).", maxLength=1024),
            "dryRun": {
                "type": "boolean",
                "description": "Preview mutating tool calls instead of executing them.",
            },
            "serviceAccountName": _service_account(
                "Overrides the Task's service account for Kubernetes tools."
            ),
            "approvals": _array(
                "Decisions on held tool calls, keyed by toolCallId. Add one with "
                "mission-control approve|reject or kubectl patch.",
                approval,
                maxItems=100,
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["toolCallId"]},
            ),
            "ttlSecondsAfterFinished": _int(
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
        *(_immutable_rule(field) for field in IMMUTABLE_RUN_FIELDS),
    ]
    status = _object(
        "Observed state, written by the operator.",
        {
            "observedGeneration": _int("The .metadata.generation last acted on.", minimum=0),
            "conditions": _conditions(
                "Succeeded: Unknown while pending or running, True or False "
                "when done; reason and message say why."
            ),
            "startTime": _string("When the run started.", format="date-time"),
            "completionTime": _string("When the run finished.", format="date-time", nullable=True),
            "resolved": _object(
                "What the run resolved at start (full snapshot in the journal).",
                {
                    "task": _string("Task name, or (inline).", maxLength=253),
                    "provider": _string("LLM provider.", maxLength=63),
                    "model": _string("Model name.", maxLength=200),
                    "tools": _array(
                        "Tools offered to the model.",
                        _string("Tool name.", maxLength=63),
                        maxItems=64,
                    ),
                    "policy": _string("ToolPolicy name, or (built-in).", maxLength=253),
                    "policyGeneration": _int("Generation of the ToolPolicy used.", minimum=0),
                },
            ),
            "steps": _int("LLM turns so far.", minimum=0),
            "toolCalls": _int("Tool calls so far.", minimum=0),
            "usage": _object(
                "Tokens and cost so far.",
                {
                    "promptTokens": _int("Prompt tokens.", minimum=0),
                    "completionTokens": _int("Completion tokens.", minimum=0),
                    "totalTokens": _int("Prompt plus completion tokens.", minimum=0),
                    "costUSD": _string("Cost in US dollars (decimal string).", pattern=COST_TOTAL),
                },
            ),
            "pendingApproval": _object(
                "The tool call waiting for a decision, if any.",
                {
                    "toolCallId": _string("Id to use in spec.approvals.", maxLength=64),
                    "tool": _string("Tool name.", maxLength=63),
                    "risk": _string("READ_ONLY, SAFE_MUTATE or DESTRUCTIVE.", enum=RISKS),
                    "arguments": _string(
                        "The call's arguments as JSON (at most 2 KiB).", maxLength=2048
                    ),
                    "argsDigest": _string("sha256 of the arguments.", pattern=ARGS_DIGEST),
                    "requestedAt": _string("When approval was requested.", format="date-time"),
                    "expiresAt": _string(
                        "When the run ends with ApprovalTimedOut.", format="date-time"
                    ),
                },
                nullable=True,
            ),
            "approvals": _array(
                "Decisions the operator applied.",
                _object(
                    "An applied decision.",
                    {
                        "toolCallId": _string("Tool call id.", maxLength=64),
                        "decision": _string("Approve or Reject.", enum=["Approve", "Reject"]),
                        "by": _string("Who decided.", maxLength=USER_NAME_MAX),
                        "at": _string("When it was applied.", format="date-time"),
                    },
                ),
                maxItems=100,
            ),
            "result": _object(
                "The outcome.",
                {
                    "summary": _string("The agent's final answer (at most 8 KiB).", maxLength=8192),
                },
            ),
        },
    )
    return {"spec": spec, "status": status}


def _policy() -> Schema:
    action = _string("Allow, Deny or RequireApproval.", enum=ACTIONS)
    rule = _object(
        "Tools matching any glob get the action; first matching rule wins.",
        {
            "tools": _array(
                "Tool name globs, e.g. delete_* or restart_proxmox_lxc: lowercase letters, "
                "digits and '_', with * for any characters and ? for one.",
                _string(
                    "Glob.",
                    minLength=1,
                    maxLength=63,
                    **{
                        "x-kubernetes-validations": [
                            _rule(
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
            "description": _string("Why this rule exists.", maxLength=1024),
        },
        required=["tools", "action"],
    )
    budgets = _object(
        "Spend limits; exceeding one ends the run with LimitExceeded. Per-day "
        "budgets are namespace-wide.",
        {
            "maxTokensPerRun": _int("Tokens per run.", minimum=1, maximum=100_000_000),
            "maxCostUSDPerRun": _string(
                "US dollars per run (decimal string).", pattern=DECIMAL_USD
            ),
            "maxTokensPerDay": _int(
                "Tokens per day in this namespace.", minimum=1, maximum=10_000_000_000
            ),
            "maxCostUSDPerDay": _string(
                "US dollars per day in this namespace.", pattern=DECIMAL_USD
            ),
        },
    )
    spec = _object(
        "What tool calls may do.",
        {
            "rules": _array(
                "Ordered rules; the first whose tools match decides.", rule, maxItems=100
            ),
            "defaults": _object(
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
            "targetNamespaces": _array(
                "Namespace globs Kubernetes tools may touch; default: the "
                "TaskRun's namespace only.",
                _string(
                    "Namespace glob: lowercase letters, digits and '-', with * and ?.",
                    minLength=1,
                    maxLength=63,
                    **{
                        "x-kubernetes-validations": [
                            _rule(
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
            "approvers": _array(
                "Who may decide held calls; empty: anyone allowed to edit the TaskRun.",
                _object(
                    "A user or group.",
                    {
                        "kind": _string("User or Group.", enum=["User", "Group"]),
                        "name": _user_name("User or group name.", what="a user or group name"),
                    },
                    required=["kind", "name"],
                ),
                maxItems=50,
            ),
            "approvalTimeoutSeconds": _int(
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
        "status": _object(
            "Observed state, written by the operator.",
            {
                "observedGeneration": _int("The .metadata.generation last validated.", minimum=0),
                "conditions": _conditions("Ready says whether the policy is valid."),
            },
        ),
    }


def _column(
    name: str, path: str, type_: str = "string", priority: int = 0, description: str = ""
) -> Schema:
    column: Schema = {"name": name, "type": type_, "jsonPath": path}
    if priority:
        column["priority"] = priority
    if description:
        column["description"] = description
    return column


def _crd(
    *,
    kind: str,
    plural: str,
    short: str,
    description: str,
    properties: Schema,
    columns: list[Schema],
) -> Schema:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [short],
                "categories": ["missioncontrol"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": description,
                            "properties": {
                                "apiVersion": _string("API version of this object."),
                                "kind": _string("Kind of this object."),
                                "metadata": {"type": "object"},
                                **properties,
                            },
                            "required": ["spec"],
                        }
                    },
                }
            ],
        },
    }


def _condition_path(type_: str, field: str) -> str:
    return f'.status.conditions[?(@.type=="{type_}")].{field}'


def all_crds() -> dict[str, Schema]:
    """File name -> CRD object for the three kinds."""
    age = _column("Age", ".metadata.creationTimestamp", "date")
    return {
        "task.yaml": _crd(
            kind="Task",
            plural="tasks",
            short="mctask",
            description="A reusable task for the agent: prompt, tools, model, policy and limits.",
            properties=_task(),
            columns=[
                _column("Model", ".spec.model.name"),
                _column("Ready", _condition_path("Ready", "status")),
                age,
            ],
        ),
        "taskrun.yaml": _crd(
            kind="TaskRun",
            plural="taskruns",
            short="mcrun",
            description="One execution of a Task. Follow it with kubectl get taskruns -w.",
            properties=_taskrun(),
            columns=[
                _column("Task", ".spec.taskRef.name"),
                _column("Succeeded", _condition_path("Succeeded", "status")),
                _column("Reason", _condition_path("Succeeded", "reason")),
                _column("Steps", ".status.steps", "integer"),
                _column("Tokens", ".status.usage.totalTokens", "integer"),
                _column("Cost", ".status.usage.costUSD"),
                age,
                _column("StartTime", ".status.startTime", "date", priority=1),
                _column("CompletionTime", ".status.completionTime", "date", priority=1),
            ],
        ),
        "toolpolicy.yaml": _crd(
            kind="ToolPolicy",
            plural="toolpolicies",
            short="mcpolicy",
            description="What tool calls of TaskRuns in this namespace may do: allow, deny or "
            "hold for approval; target namespaces; approvers; budgets.",
            properties=_policy(),
            columns=[_column("Ready", _condition_path("Ready", "status")), age],
        ),
    }


HEADER = "# Generated by `make crds` from operator/mission_control/resources/crds.py: edit that.\n"


def render(crd: Schema) -> str:
    """The YAML text of one CRD, as committed under ``crds/``."""
    import yaml  # local: only the generator and its test need YAML output

    return HEADER + yaml.safe_dump(crd, sort_keys=False, width=100, allow_unicode=True)


if __name__ == "__main__":
    import sys
    from pathlib import Path

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "crds")
    for name, crd in all_crds().items():
        (target / name).write_text(render(crd))
        print(f"wrote {target / name}")
