"""``kubectl mc approve|reject`` and ``mission-control approve|reject`` against the real API
server, run as the installed executables by two real users (client certificates)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mission_control.approval_cli import plan
from mission_control.connectors.kubernetes.taskruns import PatchTestFailed, TaskRunAccess
from tests.controlplane.launcher import Cluster
from tests.resources.corpus import taskrun
from tests.resources.kube import allow_taskrun_edits, create, get, hold, person, started_run

pytestmark = pytest.mark.controlplane
BIN = Path(sys.executable).parent
ARGUMENTS = {"namespace": "media", "name": "web-0"}


@pytest.fixture
def carol(crds: Cluster, k8s_namespace: str, tmp_path: Path) -> Cluster:
    allow_taskrun_edits(crds, k8s_namespace, group="sre")
    return person(crds, "carol", groups=("sre",), directory=tmp_path)


@pytest.fixture
def dave(crds: Cluster, k8s_namespace: str, tmp_path: Path) -> Cluster:
    allow_taskrun_edits(crds, k8s_namespace, group="ops")
    return person(crds, "dave", groups=("ops",), directory=tmp_path)


def run_as(user: Cluster, *command: str) -> subprocess.CompletedProcess[str]:
    """Run an installed command as a user would: their kubeconfig, kubectl and ours on PATH."""
    kubectl_dir = str(Path(user.kubectl_path).parent)
    env = {
        "PATH": os.pathsep.join([kubectl_dir, str(BIN), "/usr/bin", "/bin"]),
        "HOME": str(user.kubeconfig.parent),
        "KUBECONFIG": str(user.kubeconfig),
    }
    return subprocess.run(
        list(command), capture_output=True, text=True, env=env, timeout=60, check=False
    )


def _another_run(cluster: Cluster, namespace: str, name: str) -> str:
    run = taskrun()
    run["metadata"]["name"] = name
    run["spec"].pop("approvals")
    assert create(cluster, namespace, run, dry_run=False).returncode == 0
    return name


def test_kubectl_mc_approve_records_the_callers_identity_and_the_shown_digest(
    crds: Cluster, k8s_namespace: str, carol: Cluster
) -> None:
    name = started_run(crds, k8s_namespace)
    digest = hold(crds, k8s_namespace, name, tool_call_id="tc-1", arguments=ARGUMENTS)
    result = run_as(carol, "kubectl", "mc", "approve", name, "-n", k8s_namespace, "-m", "ok")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"approved tool call tc-1 of taskrun {k8s_namespace}/{name}: delete_k8s_pod "
        '{"name":"web-0","namespace":"media"} as carol (groups: sre, system:authenticated)'
    )
    assert get(crds, k8s_namespace, name)["spec"]["approvals"] == [
        {
            "toolCallId": "tc-1",
            "decision": "Approve",
            "by": "carol",
            "groups": ["sre", "system:authenticated"],
            "argsDigest": digest,
            "message": "ok",
        }
    ]


def test_a_second_person_rejects_with_the_mission_control_command(
    crds: Cluster, k8s_namespace: str, carol: Cluster, dave: Cluster
) -> None:
    name = started_run(crds, k8s_namespace)
    hold(crds, k8s_namespace, name, tool_call_id="tc-1", arguments=ARGUMENTS)
    assert run_as(carol, "kubectl", "mc", "approve", name, "-n", k8s_namespace).returncode == 0
    result = run_as(
        dave,
        "mission-control",
        "reject",
        name,
        "-n",
        k8s_namespace,
        "--tool-call",
        "tc-1",
        "--message",
        "not during the backup",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("rejected tool call tc-1")
    approvals = get(crds, k8s_namespace, name)["spec"]["approvals"]
    assert [(a["by"], a["decision"], a["groups"]) for a in approvals] == [
        ("carol", "Approve", ["sre", "system:authenticated"]),
        ("dave", "Reject", ["ops", "system:authenticated"]),
    ]
    assert approvals[1]["message"] == "not during the backup"


def test_refusals_say_why_and_record_nothing(
    crds: Cluster, k8s_namespace: str, carol: Cluster
) -> None:
    idle = started_run(crds, k8s_namespace)
    result = run_as(carol, "kubectl", "mc", "approve", idle, "-n", k8s_namespace)
    assert result.returncode == 1
    assert f"taskrun {k8s_namespace}/{idle} has no tool call awaiting approval" in result.stderr

    missing = run_as(carol, "kubectl", "mc", "reject", "no-such-run", "-n", k8s_namespace)
    assert missing.returncode == 1
    assert f"taskrun {k8s_namespace}/no-such-run not found" in missing.stderr

    name = _another_run(crds, k8s_namespace, "held-run")
    hold(crds, k8s_namespace, name, tool_call_id="tc-2", arguments=ARGUMENTS)
    wrong = run_as(carol, "kubectl", "mc", "approve", name, "-n", k8s_namespace, "--tool-call", "x")
    assert wrong.returncode == 1
    assert "tool call x is not the one awaiting approval" in wrong.stderr
    assert "that is tc-2 (delete_k8s_pod" in wrong.stderr
    assert "approvals" not in get(crds, k8s_namespace, name)["spec"]

    assert run_as(carol, "kubectl", "mc", "reject", name, "-n", k8s_namespace).returncode == 0
    twice = run_as(carol, "kubectl", "mc", "approve", name, "-n", k8s_namespace)
    assert twice.returncode == 1
    assert "you (carol) already decided tool call tc-2" in twice.stderr
    assert len(get(crds, k8s_namespace, name)["spec"]["approvals"]) == 1


def test_the_namespace_defaults_to_the_kubeconfig_contexts(
    crds: Cluster, k8s_namespace: str, carol: Cluster
) -> None:
    config = json.loads(carol.kubeconfig.read_text())
    config["contexts"][0]["context"]["namespace"] = k8s_namespace
    carol.kubeconfig.write_text(json.dumps(config))
    name = started_run(crds, k8s_namespace)
    hold(crds, k8s_namespace, name, tool_call_id="tc-1", arguments=ARGUMENTS)
    result = run_as(carol, "mission-control", "approve", name)
    assert result.returncode == 0, result.stderr
    assert [a["by"] for a in get(crds, k8s_namespace, name)["spec"]["approvals"]] == ["carol"]


async def test_the_patch_is_refused_when_the_pending_call_changed_after_it_was_read(
    crds: Cluster, k8s_namespace: str, carol: Cluster
) -> None:
    name = started_run(crds, k8s_namespace)
    hold(crds, k8s_namespace, name, tool_call_id="tc-1", arguments=ARGUMENTS)
    access = TaskRunAccess.connect(kubeconfig=carol.kubeconfig, context=None)
    try:
        shown = await access.get(k8s_namespace, name)
        caller = await access.whoami()
        decided = plan(shown, caller=caller, decision="Approve", tool_call=None, message=None)
        # Meanwhile the run moved on: the operator now holds a different call.
        hold(
            crds, k8s_namespace, name, tool_call_id="tc-2", arguments={**ARGUMENTS, "name": "db-0"}
        )
        with pytest.raises(PatchTestFailed):
            await access.json_patch(k8s_namespace, name, decided.operations)
        assert "approvals" not in get(crds, k8s_namespace, name)["spec"]
        # Same call, but the digest of other arguments: refused too.
        hold(crds, k8s_namespace, name, tool_call_id="tc-1", arguments={**ARGUMENTS, "name": "x"})
        with pytest.raises(PatchTestFailed):
            await access.json_patch(k8s_namespace, name, decided.operations)
        assert "approvals" not in get(crds, k8s_namespace, name)["spec"]
    finally:
        await access.aclose()


async def test_an_approval_list_created_meanwhile_is_never_replaced(
    crds: Cluster, k8s_namespace: str, carol: Cluster, dave: Cluster
) -> None:
    name = started_run(crds, k8s_namespace)
    hold(crds, k8s_namespace, name, tool_call_id="tc-1", arguments=ARGUMENTS)
    access = TaskRunAccess.connect(kubeconfig=carol.kubeconfig, context=None)
    try:
        shown = await access.get(k8s_namespace, name)
        decided = plan(
            shown, caller=await access.whoami(), decision="Approve", tool_call=None, message=None
        )
        assert run_as(dave, "kubectl", "mc", "approve", name, "-n", k8s_namespace).returncode == 0
        with pytest.raises(PatchTestFailed):
            await access.json_patch(k8s_namespace, name, decided.operations)
    finally:
        await access.aclose()
    assert [a["by"] for a in get(crds, k8s_namespace, name)["spec"]["approvals"]] == ["dave"]
