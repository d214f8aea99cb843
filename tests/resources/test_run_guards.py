"""What people may change on a TaskRun once it exists, against the real API server.

Each request here takes a path that a field-level rule would miss: removing a field instead
of changing it, swapping one field for another in a single request, server-side apply,
reordering a list, writing through the status subresource.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.controlplane.launcher import Cluster
from tests.resources.kube import json_patch, patch, started_run

pytestmark = pytest.mark.controlplane

INLINE = {"prompt": "Delete every pod.", "tools": ["delete_k8s_pod"]}


@pytest.mark.parametrize(
    ("field", "operations"),
    [
        ("dryRun", [{"op": "remove", "path": "/spec/dryRun"}]),
        ("serviceAccountName", [{"op": "remove", "path": "/spec/serviceAccountName"}]),
        ("params", [{"op": "remove", "path": "/spec/params"}]),
        ("model", [{"op": "add", "path": "/spec/model", "value": {"provider": "gemini"}}]),
        (
            "taskRef",
            [
                {"op": "remove", "path": "/spec/taskRef"},
                {"op": "add", "path": "/spec/taskSpec", "value": INLINE},
            ],
        ),
    ],
    ids=["remove-dryRun", "remove-serviceAccountName", "remove-params", "add-model", "swap-task"],
)
def test_what_a_run_does_cannot_be_removed_added_or_swapped(
    crds: Cluster, k8s_namespace: str, field: str, operations: list[dict[str, Any]]
) -> None:
    name = started_run(crds, k8s_namespace, dryRun=True, serviceAccountName="agent")
    before = _spec(crds, k8s_namespace, name)
    result = json_patch(crds, k8s_namespace, name, operations)
    assert result.returncode != 0, f"{operations} was accepted"
    assert f"spec.{field} is immutable once the run exists" in result.stderr
    assert "create a new TaskRun instead" in result.stderr
    assert _spec(crds, k8s_namespace, name) == before


def test_steering_fields_stay_changeable(crds: Cluster, k8s_namespace: str) -> None:
    name = started_run(crds, k8s_namespace, dryRun=True)
    change = {"status": "Cancelled", "statusMessage": "not now", "ttlSecondsAfterFinished": 60}
    result = patch(crds, k8s_namespace, name, {"spec": change})
    assert result.returncode == 0, result.stderr
    spec = _spec(crds, k8s_namespace, name)
    assert {key: spec[key] for key in change} == change
    assert spec["dryRun"] is True


def test_status_fields_are_bounded_so_the_object_stays_small(
    crds: Cluster, k8s_namespace: str
) -> None:
    name = started_run(crds, k8s_namespace)
    huge = {"status": {"result": {"summary": "x" * 8193}}}
    result = crds.kubectl(
        "patch",
        "taskrun",
        name,
        "-n",
        k8s_namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(huge),
        check=False,
    )
    assert result.returncode != 0
    assert "status.result.summary" in result.stderr
    assert "8192" in result.stderr


def test_the_status_subresource_cannot_smuggle_an_approval(
    crds: Cluster, k8s_namespace: str
) -> None:
    name = started_run(crds, k8s_namespace)
    forged = {"toolCallId": "tc-1", "decision": "Approve", "by": "bob"}
    crds.kubectl(
        "patch",
        "taskrun",
        name,
        "-n",
        k8s_namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"approvals": [forged]}, "status": {"steps": 1}}),
    )
    assert "approvals" not in _spec(crds, k8s_namespace, name)


def _apply_as(
    cluster: Cluster, namespace: str, name: str, approvals: list[dict[str, str]], user: str
) -> Any:
    manifest = {
        "apiVersion": "missioncontrol.dev/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name},
        "spec": {"approvals": approvals},
    }
    return cluster.kubectl(
        "apply",
        "--server-side",
        f"--field-manager={user}",
        "-n",
        namespace,
        "-f",
        "-",
        input=json.dumps(manifest),
        check=False,
        user=user,
    )


def test_server_side_apply_cannot_approve_in_someone_elses_name(
    crds: Cluster, k8s_namespace: str, alice_may_edit_taskruns: str
) -> None:
    name = started_run(crds, k8s_namespace)
    forged = [{"toolCallId": "tc-3", "decision": "Approve", "by": "bob"}]
    result = _apply_as(crds, k8s_namespace, name, forged, user="alice")
    assert result.returncode != 0
    assert 'is given by "bob" but you are "alice"' in result.stderr
    own = [{"toolCallId": "tc-3", "decision": "Approve", "by": "alice"}]
    result = _apply_as(crds, k8s_namespace, name, own, user="alice")
    assert result.returncode == 0, result.stderr


def test_reordering_approvals_is_allowed_but_hides_no_new_entry(
    crds: Cluster, k8s_namespace: str, alice_may_edit_taskruns: str
) -> None:
    name = started_run(crds, k8s_namespace)
    first = {"toolCallId": "tc-1", "decision": "Approve", "by": "admin"}
    second = {"toolCallId": "tc-2", "decision": "Reject", "by": "admin"}
    given = patch(crds, k8s_namespace, name, {"spec": {"approvals": [first, second]}})
    assert given.returncode == 0, given.stderr
    swapped = {"spec": {"approvals": [second, first]}}
    reordered = patch(crds, k8s_namespace, name, swapped, user="alice")
    assert reordered.returncode == 0, reordered.stderr
    smuggled = {"toolCallId": "tc-3", "decision": "Approve", "by": "admin"}
    result = patch(
        crds,
        k8s_namespace,
        name,
        {"spec": {"approvals": [first, smuggled, second]}},
        user="alice",
    )
    assert result.returncode != 0
    assert 'tool call tc-3 is given by "admin" but you are "alice"' in result.stderr


def _spec(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    text = cluster.kubectl("get", "taskrun", name, "-n", namespace, "-o", "json").stdout
    spec: dict[str, Any] = json.loads(text)["spec"]
    return spec
