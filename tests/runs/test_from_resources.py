"""The CRD models become the decisions' inputs without losing a field that changes a decision."""

from __future__ import annotations

from typing import Any

import pytest

from mission_control.resources import ClusterToolPolicy, TaskRunSpec, ToolPolicy
from mission_control.runs.approvals import PendingCall, evaluate
from mission_control.runs.cluster import (
    cluster_approvers,
    cluster_policies,
    cluster_policy,
    namespace_selector,
)
from mission_control.runs.policy import RunScope, ToolCall, decide
from mission_control.runs.resolve import approval_entries, run_policy
from tests.resources.corpus import clustertoolpolicy, taskrun, toolpolicy

GRANTED = {"missioncontrol.dev/agents": "enabled", "env": "lab"}


def _cluster(**spec: Any) -> ClusterToolPolicy:
    doc = clustertoolpolicy()
    doc["spec"].update(spec)
    return ClusterToolPolicy.model_validate(doc)


def _policy(**spec: Any) -> ToolPolicy:
    doc = toolpolicy()
    doc["spec"].update(spec)
    doc["metadata"]["namespace"] = "ops"
    return ToolPolicy.model_validate(doc)


@pytest.mark.parametrize(
    ("labels", "selected"),
    [
        (GRANTED, True),
        ({**GRANTED, "env": "home"}, True),
        ({**GRANTED, "env": "prod"}, False),
        ({"env": "lab"}, False),
        ({**GRANTED, "frozen": "yes"}, False),
        ({}, False),
    ],
)
def test_a_grants_selector_keeps_labels_and_every_expression(
    labels: dict[str, str], selected: bool
) -> None:
    grant = ClusterToolPolicy.model_validate(clustertoolpolicy()).spec.grants[0]
    assert namespace_selector(grant.namespaces).matches(labels) is selected


def test_an_empty_selector_grants_every_namespace() -> None:
    converted = cluster_policy(ClusterToolPolicy.model_validate(clustertoolpolicy()))
    everywhere = converted.grants[1]
    assert everywhere.tools == ("query_prometheus",)
    assert everywhere.namespaces.matches({}) is True
    assert everywhere.target_applications is None


@pytest.mark.parametrize(
    ("tool", "family", "arguments", "labels", "verdict"),
    [
        ("restart_proxmox_lxc", "other", {"node": "pve", "vmid": 101}, GRANTED, "RequireApproval"),
        ("list_proxmox_vms", "other", {}, GRANTED, "Allow"),
        ("list_proxmox_vms", "other", {}, {"env": "lab"}, "Deny"),
        ("query_prometheus", "other", {"query": "up"}, {}, "Allow"),
        ("get_inventory", "other", {}, GRANTED, "Deny"),
    ],
    ids=[
        "granted-held-by-cluster-rule",
        "granted",
        "not-selected",
        "granted-everywhere",
        "no-grant",
    ],
)
def test_converted_policies_decide_as_the_resources_say(
    tool: str, family: Any, arguments: dict[str, Any], labels: dict[str, str], verdict: str
) -> None:
    # The namespace policy allows everything by default; only the cluster policy limits it.
    namespace = run_policy(
        namespace="ops",
        name="open",
        generation=1,
        spec=_policy(rules=[], defaults={"safeMutate": "Allow", "destructive": "Allow"}).spec,
    )
    decision = decide(
        ToolCall(tool=tool, risk="SAFE_MUTATE", family=family, arguments=arguments),
        scope=RunScope(
            namespace="ops", task="ops/t", task_tools=frozenset({tool}), namespace_labels=labels
        ),
        policy=namespace.decision,
        cluster=cluster_policies([_cluster()]),
    )
    assert decision.verdict == verdict, decision.reason


def test_target_applications_of_grant_and_namespace_policy_both_bound_argocd_calls() -> None:
    cluster = cluster_policies(
        [
            _cluster(
                grants=[
                    {"namespaces": {}, "tools": ["argocd_*"], "targetApplications": ["media-*"]}
                ]
            )
        ]
    )
    namespace = run_policy(
        namespace="ops", name="p", generation=1, spec=_policy(targetApplications=["media-web"]).spec
    )

    def verdict(app: str) -> str:
        call = ToolCall(
            tool="argocd_sync_app", risk="SAFE_MUTATE", family="argocd", arguments={"name": app}
        )
        scope = RunScope(namespace="ops", task="ops/t", task_tools=frozenset({call.tool}))
        return decide(call, scope=scope, policy=namespace.decision, cluster=cluster).verdict

    assert verdict("media-web") == "Allow"
    assert verdict("media-db") == "Deny"  # granted by the cluster, narrowed by the namespace
    assert verdict("finance") == "Deny"


def test_cluster_policies_are_ordered_by_name_and_approvers_listed_once() -> None:
    a = _cluster(approvers=[{"kind": "Group", "name": "sre"}, {"kind": "User", "name": "root"}])
    b = _cluster(approvers=[{"kind": "Group", "name": "sre"}])
    b = b.model_copy(update={"metadata": b.metadata.model_copy(update={"name": "a-first"})})
    assert [p.name for p in cluster_policies([a, b])] == ["a-first", "valid-cluster-policy"]
    assert [(x.kind, x.name) for x in cluster_approvers([a, b])] == [
        ("Group", "sre"),
        ("User", "root"),
    ]


def test_quorum_and_four_eyes_come_from_the_policy() -> None:
    policy = run_policy(namespace="ops", name="p", generation=3, spec=_policy(approvers=[]).spec)
    assert (policy.required_approvals, policy.forbid_self_approval) == (2, True)
    assert policy.decision.target_applications == ("media-*",)
    built_in = run_policy(namespace="ops", name=None, generation=None, spec=None)
    assert (built_in.required_approvals, built_in.forbid_self_approval) == (1, False)


def test_approvals_keep_their_attested_groups_so_group_approvers_count() -> None:
    run = taskrun()
    digest = "sha256:" + "a" * 64
    run["spec"]["approvals"] = [
        {"toolCallId": "tc-1", "decision": "Approve", "by": "carol", "groups": ["sre"]},
        {"toolCallId": "tc-1", "decision": "Approve", "by": "dave", "argsDigest": digest},
    ]
    entries = approval_entries(TaskRunSpec.model_validate(run["spec"]).approvals)
    assert entries[0].groups == ("sre",)
    outcome = evaluate(
        PendingCall(tool_call_id="tc-1", args_digest=digest),
        entries=entries,
        approvers=cluster_approvers([_cluster()]),  # Group sre
        required_approvals=1,
    )
    assert outcome.state == "Approved"
    assert outcome.approved_by == ("carol",)
    assert [(i.entry.by, i.why) for i in outcome.ignored] == [("dave", "not an approver")]
