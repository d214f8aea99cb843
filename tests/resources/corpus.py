"""Valid base objects and a corpus of invalid ones, each with what the API server must say.

Every invalid case is one small change to a valid object, so a failure points at exactly
one rule. ``expect`` holds fragments of the API server's message: the field path and the
words that tell a user what to fix.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Manifest = dict[str, Any]
API = "missioncontrol.dev/v1alpha1"


def task() -> Manifest:
    return {
        "apiVersion": API,
        "kind": "Task",
        "metadata": {"name": "valid-task"},
        "spec": {
            "prompt": "Find crash-looping pods in $(params.namespace).",
            "params": [{"name": "namespace", "default": "media"}],
            "model": {"provider": "ollama", "name": "llama3.1"},
            "tools": ["list_k8s_pods", "get_k8s_events"],
            "limits": {
                "maxSteps": 10,
                "timeoutSeconds": 600,
                "maxTokens": 50000,
                "maxCostUSD": "0.50",
            },
        },
    }


def taskrun() -> Manifest:
    return {
        "apiVersion": API,
        "kind": "TaskRun",
        "metadata": {"name": "valid-run"},
        "spec": {
            "taskRef": {"name": "valid-task"},
            "params": [{"name": "namespace", "value": "media"}],
            "approvals": [{"toolCallId": "tc-1", "decision": "Approve", "by": "admin"}],
        },
    }


def toolpolicy() -> Manifest:
    return {
        "apiVersion": API,
        "kind": "ToolPolicy",
        "metadata": {"name": "valid-policy"},
        "spec": {
            "rules": [{"tools": ["delete_*"], "action": "RequireApproval"}],
            "defaults": {
                "readOnly": "Allow",
                "safeMutate": "Allow",
                "destructive": "RequireApproval",
            },
            "targetNamespaces": ["media"],
            "targetApplications": ["media-*"],
            "approvers": [{"kind": "User", "name": "alice"}],
            "approval": {"requiredApprovals": 2, "forbidSelfApproval": True},
            "approvalTimeoutSeconds": 3600,
            "budgets": {"maxTokensPerRun": 100000, "maxCostUSDPerDay": "5.00"},
        },
    }


def clustertoolpolicy() -> Manifest:
    return {
        "apiVersion": API,
        "kind": "ClusterToolPolicy",
        "metadata": {"name": "valid-cluster-policy"},
        "spec": {
            "grants": [
                {
                    "namespaces": {
                        "matchLabels": {"missioncontrol.dev/agents": "enabled"},
                        "matchExpressions": [
                            {"key": "env", "operator": "In", "values": ["lab", "home"]},
                            {"key": "frozen", "operator": "DoesNotExist"},
                        ],
                    },
                    "tools": ["list_proxmox_*", "restart_proxmox_lxc"],
                    "targetApplications": ["media-*"],
                },
                {"namespaces": {}, "tools": ["query_prometheus"]},
            ],
            "rules": [{"tools": ["restart_*"], "action": "RequireApproval"}],
            "approvers": [{"kind": "Group", "name": "sre"}],
        },
    }


def _grant(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec["grants"][0].update(values)


def _requirement(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec["grants"][0]["namespaces"]["matchExpressions"][0].update(values)


@dataclass(frozen=True)
class Case:
    id: str
    base: Callable[[], Manifest]
    change: Callable[[dict[str, Any]], None]  # mutates spec in place
    expect: tuple[str, ...]

    def manifest(self) -> Manifest:
        manifest = copy.deepcopy(self.base())
        self.change(manifest["spec"])
        return manifest


def _set(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.update(values)


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.pop(key)


def _limits(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec["limits"].update(values)


INLINE_TASK = {"prompt": "Explain pending pods.", "tools": ["list_k8s_pods"]}
APPROVAL = {"toolCallId": "tc-1", "decision": "Approve", "by": "admin"}

INVALID: list[Case] = [
    # Task
    Case("task-missing-prompt", task, _drop("prompt"), ("spec.prompt", "Required value")),
    Case("task-empty-prompt", task, _set(prompt=""), ("spec.prompt", "at least 1 chars")),
    Case(
        "task-prompt-too-long", task, _set(prompt="x" * 20001), ("spec.prompt", "Too long", "20000")
    ),
    Case(
        "task-blank-prompt",
        task,
        _set(prompt=" \n\t "),
        ("spec.prompt", "not only whitespace"),
    ),
    Case(
        "task-model-name-with-spaces",
        task,
        _set(model={"provider": "ollama", "name": "llama 3"}),
        ("spec.model.name", "a model name has no spaces"),
    ),
    Case("task-missing-tools", task, _drop("tools"), ("spec.tools", "Required value")),
    Case("task-empty-tools", task, _set(tools=[]), ("spec.tools", "at least 1 items")),
    Case(
        "task-duplicate-tools",
        task,
        _set(tools=["list_k8s_pods", "list_k8s_pods"]),
        ("spec.tools[1]", "Duplicate value"),
    ),
    Case("task-bad-tool-name", task, _set(tools=["List Pods"]), ("spec.tools[0]", "should match")),
    Case(
        "task-bad-param-name",
        task,
        _set(params=[{"name": "1st value"}]),
        ("spec.params[0].name", "should match"),
    ),
    Case(
        "task-duplicate-params",
        task,
        _set(params=[{"name": "ns"}, {"name": "ns"}]),
        ("spec.params[1]", "Duplicate value"),
    ),
    Case(
        "task-negative-max-steps",
        task,
        _limits(maxSteps=-1),
        ("spec.limits.maxSteps", "greater than or equal to 1"),
    ),
    Case(
        "task-absurd-max-steps",
        task,
        _limits(maxSteps=100000),
        ("spec.limits.maxSteps", "less than or equal to 200"),
    ),
    Case(
        "task-zero-timeout",
        task,
        _limits(timeoutSeconds=0),
        ("spec.limits.timeoutSeconds", "greater than or equal to 10"),
    ),
    Case(
        "task-absurd-max-tokens",
        task,
        _limits(maxTokens=10**12),
        ("spec.limits.maxTokens", "less than or equal to 10000000"),
    ),
    Case(
        "task-negative-cost",
        task,
        _limits(maxCostUSD="-1"),
        ("spec.limits.maxCostUSD", "should match"),
    ),
    Case(
        "task-cost-not-a-number",
        task,
        _limits(maxCostUSD="a lot"),
        ("spec.limits.maxCostUSD", "should match"),
    ),
    Case(
        "task-wrong-provider",
        task,
        _set(model={"provider": "openai", "name": "gpt-4o"}),
        ("spec.model.provider", "Unsupported value", '"ollama"'),
    ),
    Case("task-unknown-field", task, _set(temperature=0.2), ('unknown field "spec.temperature"',)),
    # TaskRun
    Case(
        "run-neither-ref-nor-spec",
        taskrun,
        _drop("taskRef"),
        ("exactly one of spec.taskRef or spec.taskSpec must be set",),
    ),
    Case(
        "run-both-ref-and-spec",
        taskrun,
        _set(taskSpec=INLINE_TASK),
        ("exactly one of spec.taskRef or spec.taskSpec must be set",),
    ),
    Case(
        "run-inline-without-tools",
        taskrun,
        lambda spec: (spec.pop("taskRef"), spec.update(taskSpec={"prompt": "p", "tools": []})),
        ("spec.taskSpec.tools", "at least 1 items"),
    ),
    Case(
        "run-inline-blank-prompt",
        taskrun,
        lambda spec: (spec.pop("taskRef"), spec.update(taskSpec={**INLINE_TASK, "prompt": "  "})),
        ("spec.taskSpec.prompt", "not only whitespace"),
    ),
    Case(
        "run-unknown-status",
        taskrun,
        _set(status="Paused"),
        ("spec.status", "Unsupported value", '"Cancelled"'),
    ),
    Case(
        "run-two-decisions-by-one-person",
        taskrun,
        _set(approvals=[APPROVAL, {**APPROVAL, "decision": "Reject"}]),
        ("spec.approvals[1]", "Duplicate value"),
    ),
    Case(
        "run-duplicate-approval-groups",
        taskrun,
        _set(approvals=[{**APPROVAL, "groups": ["sre", "sre"]}]),
        ("spec.approvals[0].groups[1]", "Duplicate value"),
    ),
    Case(
        "run-approval-group-with-spaces",
        taskrun,
        _set(approvals=[{**APPROVAL, "groups": ["sre "]}]),
        ("spec.approvals[0].groups[0]", "without leading or trailing spaces"),
    ),
    Case(
        "run-bad-decision",
        taskrun,
        _set(approvals=[{**APPROVAL, "decision": "Maybe"}]),
        ("spec.approvals[0].decision", "Unsupported value", '"Approve"'),
    ),
    Case(
        "run-approval-without-by",
        taskrun,
        _set(approvals=[{"toolCallId": "tc-1", "decision": "Approve"}]),
        ("spec.approvals[0].by", "Required value"),
    ),
    Case(
        "run-approval-by-with-spaces",
        taskrun,
        _set(approvals=[{**APPROVAL, "by": "admin "}]),
        ("spec.approvals[0].by", "without leading or trailing spaces"),
    ),
    Case(
        "run-bad-args-digest",
        taskrun,
        _set(approvals=[{**APPROVAL, "argsDigest": "md5:abc"}]),
        ("spec.approvals[0].argsDigest", "should match"),
    ),
    Case(
        "run-duplicate-params",
        taskrun,
        _set(params=[{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]),
        ("spec.params[1]", "Duplicate value"),
    ),
    Case(
        "run-param-without-value",
        taskrun,
        _set(params=[{"name": "a"}]),
        ("spec.params[0].value", "Required value"),
    ),
    Case(
        "run-negative-ttl",
        taskrun,
        _set(ttlSecondsAfterFinished=-5),
        ("spec.ttlSecondsAfterFinished", "greater than or equal to 0"),
    ),
    Case(
        "run-bad-service-account",
        taskrun,
        _set(serviceAccountName="Agent_SA"),
        ("spec.serviceAccountName", "should match"),
    ),
    # ToolPolicy
    Case(
        "policy-bad-action",
        toolpolicy,
        _set(rules=[{"tools": ["*"], "action": "Maybe"}]),
        ("spec.rules[0].action", "Unsupported value", '"RequireApproval"'),
    ),
    Case(
        "policy-rule-without-tools",
        toolpolicy,
        _set(rules=[{"tools": [], "action": "Deny"}]),
        ("spec.rules[0].tools", "at least 1 items"),
    ),
    Case(
        "policy-tool-glob-that-never-matches",
        toolpolicy,
        _set(rules=[{"tools": ["Delete_*"], "action": "Deny"}]),
        ("spec.rules[0].tools[0]", "could never match"),
    ),
    Case(
        "policy-namespace-glob-that-never-matches",
        toolpolicy,
        _set(targetNamespaces=["media", "Monitoring"]),
        ("spec.targetNamespaces[1]", "could never match"),
    ),
    Case(
        "policy-duplicate-target-namespaces",
        toolpolicy,
        _set(targetNamespaces=["media", "media"]),
        ("spec.targetNamespaces[1]", "Duplicate value"),
    ),
    Case(
        "policy-approver-with-spaces",
        toolpolicy,
        _set(approvers=[{"kind": "User", "name": " alice"}]),
        ("spec.approvers[0].name", "without leading or trailing spaces"),
    ),
    Case(
        "policy-bad-default",
        toolpolicy,
        _set(defaults={"destructive": "Yes"}),
        ("spec.defaults.destructive", "Unsupported value"),
    ),
    Case(
        "policy-tiny-approval-timeout",
        toolpolicy,
        _set(approvalTimeoutSeconds=5),
        ("spec.approvalTimeoutSeconds", "greater than or equal to 60"),
    ),
    Case(
        "policy-cost-with-unit",
        toolpolicy,
        _set(budgets={"maxCostUSDPerDay": "5 dollars"}),
        ("spec.budgets.maxCostUSDPerDay", "should match"),
    ),
    Case(
        "policy-no-approvals-required",
        toolpolicy,
        _set(approval={"requiredApprovals": 0}),
        ("spec.approval.requiredApprovals", "greater than or equal to 1"),
    ),
    Case(
        "policy-too-many-approvals-required",
        toolpolicy,
        _set(approval={"requiredApprovals": 6}),
        ("spec.approval.requiredApprovals", "less than or equal to 5"),
    ),
    Case(
        "policy-application-glob-that-never-matches",
        toolpolicy,
        _set(targetApplications=["Media_*"]),
        ("spec.targetApplications[0]", "could never match"),
    ),
    Case(
        "policy-duplicate-target-applications",
        toolpolicy,
        _set(targetApplications=["a", "a"]),
        ("spec.targetApplications[1]", "Duplicate value"),
    ),
    Case(
        "policy-bad-approver-kind",
        toolpolicy,
        _set(approvers=[{"kind": "Team", "name": "x"}]),
        ("spec.approvers[0].kind", "Unsupported value", '"Group"'),
    ),
    # ClusterToolPolicy
    Case(
        "cluster-grant-without-namespaces",
        clustertoolpolicy,
        lambda spec: spec["grants"][0].pop("namespaces"),
        ("spec.grants[0].namespaces", "Required value"),
    ),
    Case(
        "cluster-grant-without-tools",
        clustertoolpolicy,
        _grant(tools=[]),
        ("spec.grants[0].tools", "at least 1 items"),
    ),
    Case(
        "cluster-in-without-values",
        clustertoolpolicy,
        _requirement(values=[]),
        ("spec.grants[0].namespaces.matchExpressions[0]", "In and NotIn need at least one value"),
    ),
    Case(
        "cluster-exists-with-values",
        clustertoolpolicy,
        _requirement(operator="Exists"),
        ("Exists and DoesNotExist take none",),
    ),
    Case(
        "cluster-bad-selector-operator",
        clustertoolpolicy,
        _requirement(operator="Matches"),
        ("spec.grants[0].namespaces.matchExpressions[0].operator", "Unsupported value"),
    ),
    Case(
        "cluster-bad-label-key",
        clustertoolpolicy,
        _grant(namespaces={"matchLabels": {"agents enabled": "yes"}}),
        ("spec.grants[0].namespaces.matchLabels", "label keys are"),
    ),
    Case(
        "cluster-bad-label-value",
        clustertoolpolicy,
        _grant(namespaces={"matchLabels": {"agents": "not valid"}}),
        ("spec.grants[0].namespaces.matchLabels.agents", "should match"),
    ),
    Case(
        "cluster-tool-glob-that-never-matches",
        clustertoolpolicy,
        _grant(tools=["List_*"]),
        ("spec.grants[0].tools[0]", "could never match"),
    ),
    Case(
        "cluster-application-glob-that-never-matches",
        clustertoolpolicy,
        _grant(targetApplications=["media apps"]),
        ("spec.grants[0].targetApplications[0]", "could never match"),
    ),
    Case(
        "cluster-bad-rule-action",
        clustertoolpolicy,
        _set(rules=[{"tools": ["*"], "action": "Maybe"}]),
        ("spec.rules[0].action", "Unsupported value"),
    ),
    Case(
        "cluster-unknown-field",
        clustertoolpolicy,
        _set(targetNamespaces=["media"]),
        ('unknown field "spec.targetNamespaces"',),
    ),
]


def tasktrigger() -> Manifest:
    return {
        "apiVersion": API,
        "kind": "TaskTrigger",
        "metadata": {"name": "valid-trigger"},
        "spec": {
            "taskRef": {"name": "valid-task"},
            "params": [{"name": "namespace", "value": "media"}],
            "schedule": {
                "cron": "0 7 * * MON-FRI",
                "timeZone": "Europe/Berlin",
                "startingDeadlineSeconds": 300,
            },
            "concurrencyPolicy": "Forbid",
            "suspend": False,
            "successfulRunsHistoryLimit": 3,
            "failedRunsHistoryLimit": 1,
            "runTemplate": {"dryRun": True, "ttlSecondsAfterFinished": 86400},
        },
    }


def _schedule(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec["schedule"].update(values)


ALERT = {
    "matchers": [{"label": "alertname", "op": "=", "value": "KubePodCrashLooping"}],
    "tokenSecretRef": {"name": "am-token", "key": "token"},
    "cooldownSeconds": 3600,
}
CRON_FIX = "must be a cron schedule: five fields"

INVALID += [
    Case(
        "trigger-both-schedule-and-alert",
        tasktrigger,
        _set(alert=ALERT),
        ("exactly one of spec.schedule (cron) or spec.alert (Alertmanager) must be set",),
    ),
    Case(
        "trigger-neither-schedule-nor-alert",
        tasktrigger,
        _drop("schedule"),
        ("exactly one of spec.schedule (cron) or spec.alert (Alertmanager) must be set",),
    ),
    Case(
        "trigger-cron-four-fields",
        tasktrigger,
        _schedule(cron="0 7 * *"),
        ("spec.schedule.cron", CRON_FIX),
    ),
    Case(
        "trigger-cron-minute-60",
        tasktrigger,
        _schedule(cron="60 7 * * *"),
        ("spec.schedule.cron", CRON_FIX),
    ),
    Case(
        "trigger-cron-hour-24",
        tasktrigger,
        _schedule(cron="0 24 * * *"),
        ("spec.schedule.cron", CRON_FIX),
    ),
    Case(
        "trigger-cron-words",
        tasktrigger,
        _schedule(cron="every morning"),
        ("spec.schedule.cron", CRON_FIX),
    ),
    Case(
        "trigger-cron-shell",
        tasktrigger,
        _schedule(cron="0 7 * * *; rm -rf /"),
        ("spec.schedule.cron", CRON_FIX),
    ),
    Case(
        "trigger-time-zone-not-a-name",
        tasktrigger,
        _schedule(timeZone="Berlin time"),
        ("spec.schedule.timeZone", "IANA time zone name such as Europe/Berlin"),
    ),
    Case(
        "trigger-negative-deadline",
        tasktrigger,
        _schedule(startingDeadlineSeconds=-5),
        ("spec.schedule.startingDeadlineSeconds", "greater than or equal to 1"),
    ),
    Case(
        "trigger-negative-successful-history",
        tasktrigger,
        _set(successfulRunsHistoryLimit=-1),
        ("spec.successfulRunsHistoryLimit", "greater than or equal to 0"),
    ),
    Case(
        "trigger-negative-failed-history",
        tasktrigger,
        _set(failedRunsHistoryLimit=-1),
        ("spec.failedRunsHistoryLimit", "greater than or equal to 0"),
    ),
    Case(
        "trigger-unknown-concurrency-policy",
        tasktrigger,
        _set(concurrencyPolicy="Queue"),
        ("spec.concurrencyPolicy", "Unsupported value", '"Replace"'),
    ),
    Case("trigger-missing-task", tasktrigger, _drop("taskRef"), ("spec.taskRef", "Required value")),
    Case(
        "trigger-alert-without-token",
        tasktrigger,
        lambda spec: (spec.pop("schedule"), spec.update(alert={"matchers": []})),
        ("spec.alert.tokenSecretRef", "Required value"),
    ),
    Case(
        "trigger-alert-negative-cooldown",
        tasktrigger,
        lambda spec: (spec.pop("schedule"), spec.update(alert={**ALERT, "cooldownSeconds": -1})),
        ("spec.alert.cooldownSeconds", "greater than or equal to 0"),
    ),
    Case(
        "trigger-alert-bad-matcher-op",
        tasktrigger,
        lambda spec: (
            spec.pop("schedule"),
            spec.update(alert={**ALERT, "matchers": [{"label": "a", "op": "==", "value": "b"}]}),
        ),
        ("spec.alert.matchers[0].op", "Unsupported value"),
    ),
]
