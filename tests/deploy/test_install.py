"""manifests/install.yaml: the chart rendered with default values, kept in sync, installed for
real on the local control plane.

Pods cannot run here (no kubelet, no scheduler): what is checked is that the API server has
everything — CRDs Established, the admission policies bound and acting, the RBAC in place
(asked with tokens of the chart's own ServiceAccounts, from the TokenRequest API), the
Deployment's pod created by the controllers, and the sidecar's token filled in.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.controlplane.launcher import Cluster
from tests.deploy.chart import INSTALL_YAML, Helm, documents
from tests.support.processes import wait_until

NAMESPACE = "mission-control"
OPERATOR = f"system:serviceaccount:{NAMESPACE}:mission-control"


def test_install_yaml_is_the_chart_rendered_with_default_values(helm: Helm) -> None:
    assert INSTALL_YAML.read_text() == helm.install_yaml(), (
        "manifests/install.yaml is stale: python -m tests.deploy.render_install"
    )


@pytest.fixture(scope="module")
def installed(crds: Cluster) -> Iterator[Cluster]:
    """install.yaml applied as a user would (plus the Secret the README says to create);
    removed afterwards, except the CRDs and admission policies the other tests share."""
    cluster = crds
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(INSTALL_YAML))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "mission-control", "namespace": NAMESPACE},
        "stringData": {
            "database-url": "postgresql://mission_control_app:x@postgres:5432/mission_control",
            "database-readonly-url": "postgresql://mission_control_readonly:x@postgres/mc",
            "database-owner-url": "postgresql://mission_control:x@postgres:5432/mission_control",
            "audit-key": "k" * 32,
            "api-auth-token": "t" * 32,
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(secret))
    try:
        yield cluster
    finally:
        keep = {"CustomResourceDefinition", "ValidatingAdmissionPolicy", "Namespace"}
        keep |= {"ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy"}
        keep |= {"MutatingAdmissionPolicyBinding"}
        for obj in documents(INSTALL_YAML.read_text()):
            if obj["kind"] not in keep and "namespace" not in obj["metadata"]:
                kind, name = obj["kind"].lower(), obj["metadata"]["name"]
                cluster.kubectl("delete", kind, name, "--ignore-not-found", check=False)
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _token_kubeconfig(cluster: Cluster, account: str, directory: Path) -> Path:
    """A kubeconfig that authenticates with a fresh token of ``account`` (TokenRequest)."""
    token = cluster.kubectl("create", "token", account, "-n", NAMESPACE).stdout.strip()
    admin = json.loads(cluster.kubeconfig.read_text())
    config = {
        **admin,
        "users": [{"name": "user", "user": {"token": token}}],
    }
    path = directory / f"{account}.kubeconfig"
    path.write_text(json.dumps(config))
    return path


def _as(cluster: Cluster, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cluster.kubectl_path, f"--kubeconfig={kubeconfig}", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.controlplane
def test_the_crds_are_established_and_the_policies_bound(installed: Cluster) -> None:
    for crd in ("tasks", "taskruns", "toolpolicies", "clustertoolpolicies", "tasktriggers"):
        result = installed.kubectl(
            "get", "crd", f"{crd}.missioncontrol.dev", "-o", "jsonpath={.status.conditions}"
        )
        conditions = {c["type"]: c["status"] for c in json.loads(result.stdout)}
        assert conditions["Established"] == "True", crd
    for kind in ("validatingadmissionpolicy", "mutatingadmissionpolicy"):
        bindings = json.loads(installed.kubectl("get", f"{kind}binding", "-o", "json").stdout)[
            "items"
        ]
        bound = {b["spec"]["policyName"] for b in bindings}
        policies = json.loads(installed.kubectl("get", kind, "-o", "json").stdout)["items"]
        ours = {p["metadata"]["name"] for p in policies if "missioncontrol" in json.dumps(p)}
        assert ours, kind
        assert ours <= bound, f"{kind}: not bound: {ours - bound}"
    # Bound and acting: an approval in someone else's name is refused by the API server.
    forged = {
        "apiVersion": "missioncontrol.dev/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": "forged", "namespace": NAMESPACE},
        "spec": {
            "taskRef": {"name": "t"},
            "approvals": [
                {"toolCallId": "tc-1", "decision": "Approve", "by": "someone-else"},
            ],
        },
    }
    refused = installed.kubectl(
        "create", "--dry-run=server", "-f", "-", input=json.dumps(forged), check=False
    )
    assert refused.returncode != 0
    assert "ValidatingAdmissionPolicy" in refused.stderr


@pytest.mark.controlplane
def test_the_controllers_make_the_pod_and_fill_the_sidecars_token(installed: Cluster) -> None:
    def pod() -> dict[str, object] | None:
        found = json.loads(
            installed.kubectl(
                "get",
                "pods",
                "-n",
                NAMESPACE,
                "-l",
                "app.kubernetes.io/component=operator",
                "-o",
                "json",
            ).stdout
        )["items"]
        return found[0] if found else None

    wait_until(lambda: pod() is not None, timeout=60, what="the operator's pod to be created")
    spec = pod()["spec"]  # type: ignore[index]
    assert [c["name"] for c in spec["initContainers"]] == ["migrate"]
    assert [c["name"] for c in spec["containers"]] == ["operator", "sidecar"]
    assert spec["serviceAccountName"] == "mission-control"

    def token() -> str:
        return installed.kubectl(
            "get",
            "secret",
            "mission-control-sidecar-token",
            "-n",
            NAMESPACE,
            "-o",
            "jsonpath={.data.token}",
        ).stdout

    wait_until(lambda: bool(token()), timeout=60, what="the sidecar's token to be filled in")
    review = installed.kubectl(
        "create",
        "-o",
        "json",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "spec": {"token": base64.b64decode(token()).decode()},
            }
        ),
    )
    status = json.loads(review.stdout)["status"]
    assert (
        status["user"]["username"] == f"system:serviceaccount:{NAMESPACE}:mission-control-sidecar"
    )


@pytest.mark.controlplane
@pytest.mark.parametrize(
    ("check", "allowed"),
    [
        (("list", "taskruns.missioncontrol.dev", "-A"), True),
        (("patch", "taskruns.missioncontrol.dev", "--subresource=status", "-n", "x"), True),
        (("patch", "tasks.missioncontrol.dev", "--subresource=status", "-n", "x"), True),
        (("patch", "clustertoolpolicies.missioncontrol.dev", "--subresource=status"), True),
        (("watch", "clustertoolpolicies.missioncontrol.dev"), True),
        (("create", "events", "-n", "default"), True),
        (("impersonate", "serviceaccounts", "-n", "default"), True),
        (("create", "configmaps", "-n", NAMESPACE), True),
        (("update", "configmaps/mission-control-audit-checkpoint", "-n", NAMESPACE), True),
        (("list", "nodes"), True),
        (("get", "secrets", "-n", NAMESPACE), False),
        (("list", "secrets", "-A"), False),
        (("impersonate", "users"), False),
        (("impersonate", "groups"), False),
        (("delete", "taskruns.missioncontrol.dev", "-n", "default"), True),
        # A TaskTrigger's runs; the trigger itself is only read (and its status patched).
        (("create", "taskruns.missioncontrol.dev", "-n", "default"), True),
        (("watch", "tasktriggers.missioncontrol.dev", "-A"), True),
        (("patch", "tasktriggers.missioncontrol.dev", "--subresource=status", "-n", "x"), True),
        (("patch", "tasktriggers.missioncontrol.dev", "-n", "default"), False),
        (("patch", "tasks.missioncontrol.dev", "-n", "default"), False),
        (("update", "taskruns.missioncontrol.dev", "--subresource=status", "-n", "x"), False),
        (("create", "configmaps", "-n", "default"), False),
        (("update", "configmaps/other", "-n", NAMESPACE), False),
        (("delete", "pods", "-n", "default"), False),
        (("patch", "deployments.apps", "-n", "default"), False),
        (("create", "clusterrolebindings.rbac.authorization.k8s.io"), False),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else str(v),
)
def test_the_operators_token_may_do_what_it_needs_and_nothing_more(
    installed: Cluster, tmp_path: Path, check: tuple[str, ...], allowed: bool
) -> None:
    kubeconfig = _token_kubeconfig(installed, "mission-control", tmp_path)
    whoami = _as(
        installed, kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"
    )
    assert whoami.stdout == OPERATOR
    result = _as(installed, kubeconfig, "auth", "can-i", *check)
    assert result.stdout.strip() == ("yes" if allowed else "no"), result.stderr


@pytest.mark.controlplane
def test_the_sidecar_reads_what_it_serves_and_every_write_is_forbidden(
    installed: Cluster, tmp_path: Path
) -> None:
    kubeconfig = _token_kubeconfig(installed, "mission-control-sidecar", tmp_path)
    listed = _as(installed, kubeconfig, "get", "tasks.missioncontrol.dev", "-A", "-o", "name")
    assert listed.returncode == 0, listed.stderr
    task = {
        "apiVersion": "missioncontrol.dev/v1alpha1",
        "kind": "Task",
        "metadata": {"name": "written-by-the-sidecar", "namespace": NAMESPACE},
        "spec": {"prompt": "list pods", "tools": ["list_k8s_pods"]},
    }
    writes = [
        ("create", "-f", "-"),
        ("delete", "tasks.missioncontrol.dev", "anything", "-n", NAMESPACE),
        ("create", "configmap", "x", "-n", NAMESPACE),
        ("get", "secrets", "-n", NAMESPACE),
        ("get", "taskruns.missioncontrol.dev", "-A"),
    ]
    for args in writes:
        result = subprocess.run(
            [installed.kubectl_path, f"--kubeconfig={kubeconfig}", *args],
            input=json.dumps(task),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode != 0, args
        assert "is forbidden: User" in result.stderr, (args, result.stderr)
