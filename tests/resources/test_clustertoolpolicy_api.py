"""The cluster-scoped ClusterToolPolicy against the real API server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.controlplane.launcher import Cluster
from tests.resources.corpus import clustertoolpolicy

pytestmark = pytest.mark.controlplane


@pytest.fixture
def cluster_policy(crds: Cluster, k8s_namespace: str) -> Iterator[str]:
    """The corpus ClusterToolPolicy under a name of this test's own, deleted afterwards."""
    policy = clustertoolpolicy()
    name = f"grant-{k8s_namespace}"
    policy["metadata"]["name"] = name
    crds.kubectl("create", "-f", "-", input=json.dumps(policy))
    try:
        yield name
    finally:
        crds.kubectl("delete", "clustertoolpolicy", name, "--wait=false", check=False)


def test_it_is_cluster_scoped_and_listed_with_its_short_name_and_columns(
    crds: Cluster, cluster_policy: str
) -> None:
    ready = {
        "status": {
            "observedGeneration": 1,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Valid",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
        }
    }
    crds.kubectl(
        "patch",
        "mcclusterpolicy",
        cluster_policy,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(ready),
    )
    lines = crds.kubectl("get", "mcclusterpolicy").stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "REASON", "AGE"]
    [row] = [line for line in lines if line.startswith(cluster_policy + " ")]
    assert row.split()[1:3] == ["True", "Valid"]
    stored = json.loads(crds.kubectl("get", "mcclusterpolicy", cluster_policy, "-o", "json").stdout)
    assert "namespace" not in stored["metadata"]
    listed = crds.kubectl("get", "missioncontrol", "-o", "name").stdout
    assert f"clustertoolpolicy.missioncontrol.dev/{cluster_policy}" in listed


def test_kubectl_explain_teaches_grants(crds: Cluster) -> None:
    text = crds.kubectl("explain", "clustertoolpolicy.spec.grants").stdout
    for field in ("namespaces", "tools", "targetApplications"):
        assert field in text
    selector = crds.kubectl("explain", "clustertoolpolicy.spec.grants.namespaces").stdout
    assert "a label selector as in Kubernetes" in selector
    assert "matchExpressions" in selector
