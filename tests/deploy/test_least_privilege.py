"""The operator's e2e scenarios pass with the operator authenticated as the chart's own
ServiceAccount (a TokenRequest token), not the admin certificate: the chart grants enough.

That it grants no more — each rule removed makes some scenario fail — is the sweep in
``tests/deploy/least_privilege.py`` (``make least-privilege``: one e2e run per rule, so it is
not part of ``make test``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.controlplane.launcher import Cluster
from tests.deploy.chart import Helm
from tests.deploy.least_privilege import (
    ACCOUNT,
    NAMESPACE,
    apply,
    rbac_objects,
    remove,
    rules,
    run_scenarios,
    token_kubeconfig,
)

pytestmark = [pytest.mark.controlplane, pytest.mark.slow]


def test_the_rules_under_proof_are_the_charts(helm: Helm) -> None:
    objects = rbac_objects(helm)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"]
    assert len(rules(objects)) >= 10


@pytest.mark.timeout(1800)
def test_every_scenario_passes_as_the_charts_service_account(
    crds: Cluster, helm: Helm, tmp_path: Path
) -> None:
    objects = rbac_objects(helm)
    apply(crds, objects)
    try:
        kubeconfig = token_kubeconfig(crds, tmp_path)
        whoami = crds.kubectl(
            f"--kubeconfig={kubeconfig}",
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        )
        assert whoami.stdout == f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
        failed = run_scenarios(crds, kubeconfig, directory=tmp_path, stop_at_first=False)
    finally:
        remove(crds, objects)
    assert failed == [], (tmp_path / "e2e.out").read_text()[-6000:]
