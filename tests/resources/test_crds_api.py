"""The CRDs and the approval admission policy, against the real Kubernetes API server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mission_control.resources import (
    ApprovalSettings,
    Approver,
    ClusterToolPolicy,
    ClusterToolPolicySpec,
    LabelSelector,
    LabelSelectorRequirement,
    ModelRef,
    Task,
    TaskRun,
    TaskSpec,
    ToolGrant,
    ToolPolicy,
)
from mission_control.resources.common import Metadata
from mission_control.resources.taskrun import Approval, TaskRef, TaskRunParam, TaskRunSpec
from mission_control.resources.toolpolicy import Budgets, PolicyRule, ToolPolicySpec
from tests.controlplane.launcher import Cluster
from tests.resources.corpus import INVALID, Case, task, taskrun, toolpolicy
from tests.resources.kube import create, patch, person, started_run

pytestmark = pytest.mark.controlplane
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("plural", "short", "scope"),
    [
        ("tasks", "mctask", "Namespaced"),
        ("taskruns", "mcrun", "Namespaced"),
        ("toolpolicies", "mcpolicy", "Namespaced"),
        ("clustertoolpolicies", "mcclusterpolicy", "Cluster"),
        ("tasktriggers", "mctrigger", "Namespaced"),
    ],
)
def test_crds_are_established_with_status_subresource_and_short_names(
    crds: Cluster, plural: str, short: str, scope: str
) -> None:
    crd = json.loads(
        crds.kubectl("get", "crd", f"{plural}.missioncontrol.dev", "-o", "json").stdout
    )
    established = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert established["Established"] == "True"
    assert crd["spec"]["scope"] == scope
    assert crd["spec"]["names"]["shortNames"] == [short]
    assert crd["spec"]["names"]["categories"] == ["missioncontrol"]
    assert crd["spec"]["versions"][0]["subresources"] == {"status": {}}


def test_every_example_applies_with_kubectl_apply(crds: Cluster, k8s_namespace: str) -> None:
    result = crds.kubectl("apply", "-n", k8s_namespace, "-f", str(ROOT / "manifests" / "examples"))
    assert result.stdout.count(" created") == len(
        list((ROOT / "manifests" / "examples").glob("*.yaml"))
    )
    listed = crds.kubectl("get", "missioncontrol", "-n", k8s_namespace, "-o", "name").stdout
    assert "task.missioncontrol.dev/diagnose-crashloops" in listed
    assert "taskrun.missioncontrol.dev/crashloops-media" in listed
    assert "toolpolicy.missioncontrol.dev/default" in listed


def test_kubectl_explain_teaches_the_approval_fields(crds: Cluster) -> None:
    text = crds.kubectl("explain", "taskrun.spec.approvals").stdout
    assert "Decisions on held tool calls, one per tool call and person" in text
    for field in ("toolCallId", "decision", "by", "groups", "argsDigest", "message"):
        assert field in text
    assert (
        "Your Kubernetes user name" in crds.kubectl("explain", "taskrun.spec.approvals.by").stdout
    )


def test_get_taskruns_prints_the_designed_columns(crds: Cluster, k8s_namespace: str) -> None:
    run = taskrun()
    assert create(crds, k8s_namespace, run, dry_run=False).returncode == 0
    status = {
        "status": {
            "conditions": [
                {
                    "type": "Succeeded",
                    "status": "Unknown",
                    "reason": "Running",
                    "message": "step 3",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
            "steps": 3,
            "usage": {"totalTokens": 5530, "costUSD": "0.0012"},
            "startTime": "2026-01-01T00:00:00Z",
        }
    }
    crds.kubectl(
        "patch",
        "taskrun",
        "valid-run",
        "-n",
        k8s_namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
    header, row = crds.kubectl("get", "taskruns", "-n", k8s_namespace).stdout.splitlines()
    assert header.split() == [
        "NAME",
        "TASK",
        "SUCCEEDED",
        "REASON",
        "STEPS",
        "TOKENS",
        "COST",
        "AGE",
    ]
    assert row.split()[:7] == [
        "valid-run",
        "valid-task",
        "Unknown",
        "Running",
        "3",
        "5530",
        "0.0012",
    ]
    wide = crds.kubectl("get", "mcrun", "-n", k8s_namespace, "-o", "wide").stdout.splitlines()[0]
    assert wide.split()[-2:] == ["STARTTIME", "COMPLETIONTIME"]


def test_get_missioncontrol_lists_all_three_kinds(crds: Cluster, k8s_namespace: str) -> None:
    for build in (task, taskrun, toolpolicy):
        assert create(crds, k8s_namespace, build(), dry_run=False).returncode == 0
    out = crds.kubectl("get", "missioncontrol", "-n", k8s_namespace).stdout
    assert "task.missioncontrol.dev/valid-task" in out
    assert "taskrun.missioncontrol.dev/valid-run" in out
    assert "toolpolicy.missioncontrol.dev/valid-policy" in out


@pytest.mark.parametrize("case", INVALID, ids=lambda case: case.id)
def test_api_server_rejects_invalid_objects_with_a_message_naming_the_fix(
    crds: Cluster, k8s_namespace: str, case: Case
) -> None:
    result = create(crds, k8s_namespace, case.manifest())
    assert result.returncode != 0, f"{case.id} was accepted"
    for fragment in case.expect:
        assert fragment in result.stderr, f"{fragment!r} not in: {result.stderr}"


def test_objects_built_from_the_models_pass_server_side_dry_run(
    crds: Cluster, k8s_namespace: str
) -> None:
    built = [
        Task(
            metadata=Metadata(name="built"),
            spec=TaskSpec(
                prompt="Check $(params.app).",
                tools=["get_argocd_app_status"],
                model=ModelRef(provider="gemini", name="gemini-2.0-flash"),
            ),
        ),
        TaskRun(
            metadata=Metadata(name="built"),
            spec=TaskRunSpec(
                task_ref=TaskRef(name="built"),
                params=[TaskRunParam(name="app", value="jellyfin")],
                dry_run=True,
                approvals=[
                    Approval(
                        tool_call_id="tc-1",
                        decision="Reject",
                        by="admin",
                        groups=["system:masters"],
                        message="not now",
                    )
                ],
            ),
        ),
        ToolPolicy(
            metadata=Metadata(name="built"),
            spec=ToolPolicySpec(
                rules=[PolicyRule(tools=["scale_*"], action="Deny")],
                target_applications=["media-*"],
                approval=ApprovalSettings(required_approvals=2, forbid_self_approval=True),
                budgets=Budgets.model_validate({"maxCostUSDPerRun": "0.10"}),
            ),
        ),
        ClusterToolPolicy(
            metadata=Metadata(name="built"),
            spec=ClusterToolPolicySpec(
                grants=[
                    ToolGrant(
                        namespaces=LabelSelector(
                            match_labels={"kubernetes.io/metadata.name": k8s_namespace},
                            match_expressions=[
                                LabelSelectorRequirement(key="frozen", operator="DoesNotExist")
                            ],
                        ),
                        tools=["list_proxmox_*"],
                    )
                ],
                rules=[PolicyRule(tools=["restart_*"], action="RequireApproval")],
                approvers=[Approver(kind="Group", name="sre")],
            ),
        ),
    ]
    for model in built:
        result = create(crds, k8s_namespace, model.to_k8s())
        assert result.returncode == 0, result.stderr
        echoed = json.loads(result.stdout)
        assert type(model).model_validate(echoed).spec == model.spec


def test_a_cancelled_run_cannot_be_restarted(crds: Cluster, k8s_namespace: str) -> None:
    name = started_run(crds, k8s_namespace)
    assert patch(crds, k8s_namespace, name, {"spec": {"status": "Cancelled"}}).returncode == 0
    result = patch(crds, k8s_namespace, name, {"spec": {"status": ""}})
    assert result.returncode != 0
    assert "a Cancelled run cannot be restarted, create a new TaskRun" in result.stderr
    assert patch(crds, k8s_namespace, name, {"spec": {"status": None}}).returncode != 0


def test_a_pending_run_can_start_but_a_started_run_cannot_go_back_to_pending(
    crds: Cluster, k8s_namespace: str
) -> None:
    name = started_run(crds, k8s_namespace, status="Pending")
    assert patch(crds, k8s_namespace, name, {"spec": {"status": ""}}).returncode == 0
    result = patch(crds, k8s_namespace, name, {"spec": {"status": "Pending"}})
    assert result.returncode != 0
    assert "spec.status may only change from Pending" in result.stderr


def test_what_a_run_does_is_immutable_once_created(crds: Cluster, k8s_namespace: str) -> None:
    name = started_run(crds, k8s_namespace)
    result = patch(crds, k8s_namespace, name, {"spec": {"taskRef": {"name": "other"}}})
    assert result.returncode != 0
    assert "spec.taskRef is immutable once the run exists" in result.stderr


def test_given_approvals_cannot_be_rewritten(crds: Cluster, k8s_namespace: str) -> None:
    name = started_run(crds, k8s_namespace)
    approval = {"toolCallId": "tc-1", "decision": "Reject", "by": "admin"}
    assert patch(crds, k8s_namespace, name, {"spec": {"approvals": [approval]}}).returncode == 0
    flipped = {**approval, "decision": "Approve"}
    result = patch(crds, k8s_namespace, name, {"spec": {"approvals": [flipped]}})
    assert result.returncode != 0
    assert "spec.approvals entries cannot be changed or removed" in result.stderr


def test_an_approval_in_someone_elses_name_is_rejected(
    crds: Cluster, k8s_namespace: str, alice_may_edit_taskruns: str
) -> None:
    name = started_run(crds, k8s_namespace)
    forged = {"spec": {"approvals": [{"toolCallId": "tc-3", "decision": "Approve", "by": "bob"}]}}
    result = patch(crds, k8s_namespace, name, forged, user="alice")
    assert result.returncode != 0
    assert 'is given by "bob" but you are "alice"' in result.stderr
    assert "must carry your own user name" in result.stderr


def test_an_approval_in_your_own_name_is_accepted_and_kept(
    crds: Cluster, k8s_namespace: str, alice_may_edit_taskruns: str
) -> None:
    name = started_run(crds, k8s_namespace)
    own = {"toolCallId": "tc-3", "decision": "Approve", "by": "alice"}
    result = patch(crds, k8s_namespace, name, {"spec": {"approvals": [own]}}, user="alice")
    assert result.returncode == 0, result.stderr
    # A later approval by someone else leaves alice's entry as it was, so it still passes.
    both = [own, {"toolCallId": "tc-4", "decision": "Reject", "by": "admin"}]
    assert patch(crds, k8s_namespace, name, {"spec": {"approvals": both}}).returncode == 0
    stored = json.loads(
        crds.kubectl("get", "taskrun", name, "-n", k8s_namespace, "-o", "json").stdout
    )
    assert [a["by"] for a in stored["spec"]["approvals"]] == ["alice", "admin"]


def test_creating_a_run_with_a_forged_approval_is_rejected(
    crds: Cluster, k8s_namespace: str, alice_may_edit_taskruns: str
) -> None:
    run = taskrun()
    run["spec"]["approvals"] = [{"toolCallId": "tc-1", "decision": "Approve", "by": "admin"}]
    result = create(crds, k8s_namespace, run, user="alice")
    assert result.returncode != 0
    assert 'is given by "admin" but you are "alice"' in result.stderr


def test_a_user_with_a_client_certificate_can_only_approve_in_their_own_name(
    crds: Cluster, k8s_namespace: str, tmp_path: Path
) -> None:
    carol = person(crds, "carol", groups=("sre",), directory=tmp_path)
    crds.kubectl(
        "create",
        "role",
        "taskrun-approver",
        "--verb=get,list,patch",
        "--resource=taskruns.missioncontrol.dev",
        "-n",
        k8s_namespace,
    )
    crds.kubectl(
        "create",
        "rolebinding",
        "sre-approvers",
        "--role=taskrun-approver",
        "--group=sre",
        "-n",
        k8s_namespace,
    )
    name = started_run(crds, k8s_namespace)
    whoami = carol.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert whoami.stdout == "carol"

    def approve(by: str) -> subprocess.CompletedProcess[str]:
        entry = {"toolCallId": f"tc-{by}", "decision": "Approve", "by": by}
        return patch(carol, k8s_namespace, name, {"spec": {"approvals": [entry]}})

    forged = approve("alice")
    assert forged.returncode != 0
    assert 'is given by "alice" but you are "carol"' in forged.stderr
    assert approve("carol").returncode == 0, "carol may approve in her own name"
