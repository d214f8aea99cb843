"""Who approved, in which groups, and who created a run: attested by the real API server.

Two real users with client certificates (carol in group sre, dave in group ops) act with their
own credentials, without impersonation, as people at a terminal do.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.controlplane.launcher import Cluster
from tests.resources.corpus import taskrun
from tests.resources.kube import allow_taskrun_edits, create, get, person, started_run
from tests.support.processes import wait_until

pytestmark = pytest.mark.controlplane
REQUESTED_BY = "missioncontrol.dev/requested-by"


@pytest.fixture
def carol(crds: Cluster, k8s_namespace: str, tmp_path: Path) -> Cluster:
    allow_taskrun_edits(crds, k8s_namespace, group="sre")
    return person(crds, "carol", groups=("sre",), directory=tmp_path)


@pytest.fixture
def dave(crds: Cluster, k8s_namespace: str, tmp_path: Path) -> Cluster:
    allow_taskrun_edits(crds, k8s_namespace, group="ops")
    return person(crds, "dave", groups=("ops",), directory=tmp_path)


def _append(
    user: Cluster, namespace: str, name: str, entry: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    """Append one approval with a JSON patch (creating the list when the run has none)."""
    has_list = "approvals" in get(user, namespace, name)["spec"]
    operation = (
        {"op": "add", "path": "/spec/approvals/-", "value": entry}
        if has_list
        else {"op": "add", "path": "/spec/approvals", "value": [entry]}
    )
    return user.kubectl(
        "patch",
        "taskrun",
        name,
        "-n",
        namespace,
        "--type=json",
        "-p",
        json.dumps([operation]),
        check=False,
    )


def test_an_approval_may_name_only_groups_the_callers_credentials_carry(
    crds: Cluster, k8s_namespace: str, carol: Cluster
) -> None:
    name = started_run(crds, k8s_namespace)
    borrowed = {"toolCallId": "tc-1", "decision": "Approve", "by": "carol", "groups": ["ops"]}
    result = _append(carol, k8s_namespace, name, borrowed)
    assert result.returncode != 0
    assert 'names group "ops", which your credentials do not carry' in result.stderr
    assert "yours: sre, system:authenticated" in result.stderr
    mixed = {**borrowed, "groups": ["sre", "ops"]}
    assert _append(carol, k8s_namespace, name, mixed).returncode != 0
    own = {**borrowed, "groups": ["sre"]}
    result = _append(carol, k8s_namespace, name, own)
    assert result.returncode == 0, result.stderr
    assert get(crds, k8s_namespace, name)["spec"]["approvals"] == [own]


def test_impersonated_groups_are_checked_like_any_other(
    crds: Cluster, k8s_namespace: str, alice_may_edit_taskruns: str
) -> None:
    # kubectl --as=alice carries only system:authenticated: claiming sre must fail.
    name = started_run(crds, k8s_namespace)
    entry = {"toolCallId": "tc-1", "decision": "Approve", "by": "alice", "groups": ["sre"]}
    result = crds.kubectl(
        "patch",
        "taskrun",
        name,
        "-n",
        k8s_namespace,
        "--type=json",
        "-p",
        json.dumps([{"op": "add", "path": "/spec/approvals", "value": [entry]}]),
        check=False,
        user="alice",
    )
    assert result.returncode != 0
    assert 'names group "sre"' in result.stderr


def test_two_people_can_approve_one_call_but_each_only_once(
    crds: Cluster, k8s_namespace: str, carol: Cluster, dave: Cluster
) -> None:
    name = started_run(crds, k8s_namespace)
    first = {"toolCallId": "tc-1", "decision": "Approve", "by": "carol", "groups": ["sre"]}
    second = {"toolCallId": "tc-1", "decision": "Approve", "by": "dave", "groups": ["ops"]}
    assert _append(carol, k8s_namespace, name, first).returncode == 0
    result = _append(dave, k8s_namespace, name, second)
    assert result.returncode == 0, result.stderr
    again = _append(carol, k8s_namespace, name, {**first, "decision": "Reject", "groups": []})
    assert again.returncode != 0
    assert "Duplicate value" in again.stderr
    assert get(crds, k8s_namespace, name)["spec"]["approvals"] == [first, second]


def test_a_decision_once_given_cannot_be_replaced_in_place(
    crds: Cluster, k8s_namespace: str, carol: Cluster
) -> None:
    name = started_run(crds, k8s_namespace)
    entry = {"toolCallId": "tc-1", "decision": "Reject", "by": "carol"}
    assert _append(carol, k8s_namespace, name, entry).returncode == 0
    flipped = {**entry, "decision": "Approve"}
    result = carol.kubectl(
        "patch",
        "taskrun",
        name,
        "-n",
        k8s_namespace,
        "--type=json",
        "-p",
        json.dumps([{"op": "replace", "path": "/spec/approvals/0", "value": flipped}]),
        check=False,
    )
    assert result.returncode != 0
    assert "spec.approvals entries cannot be changed or removed" in result.stderr


def test_the_api_server_stamps_the_creator_whatever_the_client_claims(
    crds: Cluster, k8s_namespace: str, carol: Cluster
) -> None:
    run = taskrun()
    run["spec"].pop("approvals")
    run["metadata"]["annotations"] = {REQUESTED_BY: "dave"}
    result = create(carol, k8s_namespace, run, dry_run=False)
    assert result.returncode == 0, result.stderr
    stored = get(crds, k8s_namespace, run["metadata"]["name"])
    assert stored["metadata"]["annotations"][REQUESTED_BY] == "carol"


def test_the_creator_cannot_be_changed_removed_or_rewritten_through_status(
    crds: Cluster, k8s_namespace: str, carol: Cluster
) -> None:
    run = taskrun()
    run["spec"].pop("approvals")
    assert create(carol, k8s_namespace, run, dry_run=False).returncode == 0
    name = run["metadata"]["name"]
    changed = crds.kubectl(
        "annotate",
        "taskrun",
        name,
        "-n",
        k8s_namespace,
        f"{REQUESTED_BY}=dave",
        "--overwrite",
        check=False,
    )
    assert changed.returncode != 0
    assert 'records who created the run ("carol") and cannot be set, changed' in changed.stderr
    removed = crds.kubectl(
        "annotate", "taskrun", name, "-n", k8s_namespace, f"{REQUESTED_BY}-", check=False
    )
    assert removed.returncode != 0
    through_status = {"metadata": {"annotations": {REQUESTED_BY: "dave"}}, "status": {"steps": 1}}
    crds.kubectl(
        "patch",
        "taskrun",
        name,
        "-n",
        k8s_namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(through_status),
        check=False,
    )
    other = crds.kubectl("annotate", "taskrun", name, "-n", k8s_namespace, "team=media")
    assert other.returncode == 0, "other annotations stay editable"
    assert get(crds, k8s_namespace, name)["metadata"]["annotations"][REQUESTED_BY] == "carol"


@pytest.fixture
def without_the_stamp(crds: Cluster, k8s_namespace: str) -> Iterator[str]:
    """The test namespace as on a cluster without MutatingAdmissionPolicy: the stamping
    binding skips it (labelled), so only the validating policy guards the creator."""
    label = "missioncontrol.dev/test-without-stamp"
    crds.kubectl("label", "namespace", k8s_namespace, f"{label}=true")
    selector = {"matchExpressions": [{"key": label, "operator": "DoesNotExist"}]}
    binding = "mutatingadmissionpolicybinding/missioncontrol-requested-by"
    crds.kubectl(
        "patch",
        binding,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"matchResources": {"namespaceSelector": selector}}}),
    )
    try:
        bare = taskrun()
        bare["spec"].pop("approvals")
        # The binding change reaches the admission plugin asynchronously.
        wait_until(
            lambda: create(crds, k8s_namespace, bare).returncode != 0,
            timeout=30,
            interval=0.5,
            what="the stamping policy to skip the labelled namespace",
        )
        yield k8s_namespace
    finally:
        crds.kubectl(
            "patch",
            binding,
            "--type=json",
            "-p",
            json.dumps([{"op": "remove", "path": "/spec/matchResources"}]),
        )


def test_without_the_stamp_the_creator_must_name_themselves(
    crds: Cluster, without_the_stamp: str, carol: Cluster
) -> None:
    namespace = without_the_stamp
    run = taskrun()
    run["spec"].pop("approvals")
    missing = create(carol, namespace, run)
    assert missing.returncode != 0
    assert 'must be your own user name "carol"' in missing.stderr
    run["metadata"]["annotations"] = {REQUESTED_BY: "dave"}
    forged = create(carol, namespace, run)
    assert forged.returncode != 0
    assert 'not "dave"' in forged.stderr
    run["metadata"]["annotations"] = {REQUESTED_BY: "carol"}
    own = create(carol, namespace, run, dry_run=False)
    assert own.returncode == 0, own.stderr
    assert json.loads(own.stdout)["metadata"]["annotations"][REQUESTED_BY] == "carol"
