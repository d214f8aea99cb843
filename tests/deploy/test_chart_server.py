"""Every object the chart renders, default and all-options, passes the real API server's
validation and admission (``kubectl apply --dry-run=server``).

Not checked by the API server here: the ServiceMonitor and the PrometheusRule (the Prometheus
Operator's CRDs are not installed on the local control plane; test_chart.py and
tests/monitoring/test_rules.py check what they say).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import yaml

from tests.controlplane.launcher import Cluster
from tests.deploy.chart import ALL_OPTIONS, ROOT, Helm, documents

pytestmark = pytest.mark.controlplane


@pytest.fixture
def agent_namespaces(controlplane: Cluster) -> Iterator[list[str]]:
    names = [f"t-agents-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        controlplane.kubectl("create", "namespace", name)
    try:
        yield names
    finally:
        for name in names:
            controlplane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def peering_crds(crds: Cluster) -> Cluster:
    """kopf's peering CRDs, which the chart installs for replicaCount above 1."""
    crds.kubectl("apply", "--server-side", "-f", str(ROOT / "crds" / "peering"))
    crds.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        "crd/kopfpeerings.kopf.dev", "crd/clusterkopfpeerings.kopf.dev",
    )  # fmt: skip
    return crds


@pytest.mark.parametrize(
    "options",
    ["default", "all-options", "ha-cluster-wide", "ha-namespaces"],
)
def test_every_rendered_object_passes_server_side_dry_run(
    peering_crds: Cluster, helm: Helm, k8s_namespace: str, agent_namespaces: list[str], options: str
) -> None:
    crds = peering_crds
    values: list[str] = []
    if options == "ha-cluster-wide":
        values = ["--set", "replicaCount=2"]
    if options == "ha-namespaces":
        values = [
            "--set",
            "replicaCount=2",
            "--set",
            f"watchNamespaces={{{','.join(agent_namespaces)}}}",
        ]
    if options == "all-options":
        first, second = agent_namespaces
        values = [
            "-f",
            str(ALL_OPTIONS),
            "--set",
            f"agents.namespaces={{{first},{second}}}",
            "--set",
            f"clusterToolPolicy.namespaces={{{first}}}",
        ]
    release = f"mc-{uuid.uuid4().hex[:6]}"
    objects = documents(helm.template(*values, release=release, namespace=k8s_namespace))
    checked = [o for o in objects if o["kind"] not in ("ServiceMonitor", "PrometheusRule")]
    result = crds.kubectl(
        "apply",
        "--dry-run=server",
        "-o",
        "name",
        "-f",
        "-",
        input=yaml.safe_dump_all(checked),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    accepted = result.stdout.split()
    assert len(accepted) == len(checked), result.stdout
    kinds = {o["kind"] for o in checked}
    assert {"Deployment", "ClusterRole", "Role", "ValidatingAdmissionPolicy"} <= kinds
    if options.startswith("ha"):
        assert kinds & {"ClusterKopfPeering", "KopfPeering"}
    if options == "all-options":
        assert {"StatefulSet", "ClusterToolPolicy", "ConfigMap", "RoleBinding"} <= kinds
