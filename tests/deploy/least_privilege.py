"""Least privilege, proven: the e2e scenarios run with the operator authenticated as the chart's
ServiceAccount (a TokenRequest token); then each rule of the chart's ClusterRole and Role is
removed in turn and the scenarios run again: a rule no scenario needs is one too many.

``python -m tests.deploy.least_privilege`` runs the sweep on the local control plane and prints
the table rule -> first failing scenario (minutes: one e2e run per rule).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.controlplane.launcher import Cluster
from tests.deploy.chart import Helm, build_helm, documents

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "mc-least-privilege"
RELEASE = "mission-control-lp"
ACCOUNT = RELEASE  # the release name holds the chart name: objects are named after it
#: The scenarios: read-only diagnosis, held destructive call approved and rejected, restarts
#: and dry runs (all impersonated), denials, invalid work, Ready conditions, the queue, and
#: the inventory through get_inventory (the operator's own credentials), the audit checkpoint,
#: TaskTriggers (schedules and the Alertmanager receiver), TTL deletion, two replicas under one
#: peering object. The ones a single rule serves come early: a sweep run stops at the first failure.
SCENARIOS = (
    "tests/e2e/test_diagnosis.py",
    "tests/e2e/test_ttl.py",
    "tests/deploy/scenarios/test_peering.py",
    "tests/deploy/scenarios/test_inventory.py",
    "tests/deploy/scenarios/test_audit_checkpoint.py",
    "tests/e2e/test_mutations.py",
    "tests/e2e/test_policy_and_bad_output.py",
    "tests/e2e/test_invalid_work.py",
    "tests/e2e/test_operator_basics.py",
    "tests/e2e/test_queue.py",
    "tests/e2e/test_trigger_schedules.py",
    "tests/e2e/test_trigger_alerts.py",
)
#: The chart as rendered for the proof: two replicas (the peering rules) serving listed
#: namespaces, as the scenarios' operators do (``-n 'e2e-XXXX-*'``: KopfPeering objects).
#: With every namespace served the peering rules name ClusterKopfPeerings instead.
VALUES = (
    "--set", "replicaCount=2", "--set", "watchNamespaces={e2e}",
    # The Alertmanager receiver on: it must do with these rules (it reads tokens as the agent).
    "--set", "operator.webhookPort=8083",
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """One rule of the rendered ClusterRole or Role, by position."""

    kind: str
    index: int
    rule: dict[str, Any]

    def label(self) -> str:
        names = f" {self.rule['resourceNames']}" if "resourceNames" in self.rule else ""
        groups = ",".join(g or "core" for g in self.rule["apiGroups"])
        return (
            f"{self.kind} {groups} {','.join(self.rule['resources'])}{names}: "
            f"{','.join(self.rule['verbs'])}"
        )


def rbac_objects(helm: Helm) -> list[dict[str, Any]]:
    """The chart's ServiceAccount, ClusterRole, Role and bindings of the operator."""
    objects = documents(helm.template(*VALUES, release=RELEASE, namespace=NAMESPACE))
    wanted = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
    return [
        o
        for o in objects
        if o["kind"] in wanted and o["metadata"]["name"] in (ACCOUNT, f"{RELEASE}-operator")
    ]


def rules(objects: list[dict[str, Any]]) -> list[Rule]:
    return [
        Rule(o["kind"], i, r)
        for o in objects
        if o["kind"] in ("ClusterRole", "Role")
        for i, r in enumerate(o["rules"])
    ]


def apply(cluster: Cluster, objects: list[dict[str, Any]], *, without: Rule | None = None) -> None:
    """Install the operator's RBAC as rendered, minus ``without``."""
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    changed = []
    for obj in objects:
        obj = json.loads(json.dumps(obj))
        if without is not None and obj["kind"] == without.kind:
            del obj["rules"][without.index]
        changed.append(obj)
    # replace, not apply: a removed rule must go (apply would merge lists).
    for obj in changed:
        created = cluster.kubectl("create", "-f", "-", input=json.dumps(obj), check=False)
        if created.returncode != 0:
            cluster.kubectl("replace", "-f", "-", input=json.dumps(obj))


def remove(cluster: Cluster, objects: list[dict[str, Any]]) -> None:
    """Delete what :func:`apply` made."""
    for obj in objects:
        if "namespace" not in obj["metadata"]:
            kind, name = obj["kind"].lower(), obj["metadata"]["name"]
            cluster.kubectl("delete", kind, name, "--ignore-not-found", check=False)
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def token_kubeconfig(cluster: Cluster, directory: Path) -> Path:
    """A kubeconfig authenticating as the chart's ServiceAccount (TokenRequest, 1 hour)."""
    token = cluster.kubectl(
        "create", "token", ACCOUNT, "-n", NAMESPACE, "--duration=1h"
    ).stdout.strip()
    config = json.loads(cluster.kubeconfig.read_text())
    config["users"] = [{"name": "user", "user": {"token": token}}]
    path = directory / "operator.kubeconfig"
    path.write_text(json.dumps(config))
    return path


def run_scenarios(
    cluster: Cluster, kubeconfig: Path, *, directory: Path, stop_at_first: bool
) -> list[str]:
    """Run the e2e scenarios with the operator as ``kubeconfig``; the failing test ids."""
    report = directory / "report.xml"
    env = {
        **os.environ,
        "MC_TEST_KUBECONFIG": str(cluster.kubeconfig),
        "PATH": f"{Path(cluster.kubectl_path).parent}:{os.environ.get('PATH', '')}",
        "MC_TEST_OPERATOR_KUBECONFIG": str(kubeconfig),
        "MC_TEST_OPERATOR_NAMESPACE": NAMESPACE,
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "tests.deploy.identity_plugin",
        "-p",
        "no:cacheprovider",
        f"--junitxml={report}",
        "--timeout=120",
        *(["-x"] if stop_at_first else []),
        *SCENARIOS,
    ]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=3600
    )
    if not report.exists():
        raise RuntimeError(f"the e2e run left no report:\n{result.stdout[-3000:]}")
    cases = list(ET.parse(report).iter("testcase"))
    # A run that collected nothing, or skipped, proves nothing.
    if not cases or any(case.find("skipped") is not None for case in cases):
        raise RuntimeError(f"the e2e run ran no scenario or skipped some:\n{result.stdout[-3000:]}")
    (directory / "e2e.out").write_text(result.stdout)
    failed = []
    for case in cases:
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}")
    return failed


def sweep(cluster: Cluster, helm: Helm) -> list[tuple[str, str]]:
    """Each rule removed once: (rule, first failing scenario or '-')."""
    objects = rbac_objects(helm)
    # With every rule, every scenario passes: a failure below is the missing rule's doing.
    with tempfile.TemporaryDirectory() as work:
        apply(cluster, objects)
        kubeconfig = token_kubeconfig(cluster, Path(work))
        failed = run_scenarios(cluster, kubeconfig, directory=Path(work), stop_at_first=True)
        if failed:
            raise RuntimeError(f"with every rule, {failed[0]} fails already")
    table = []
    only = os.environ.get("MC_LEAST_PRIVILEGE_ONLY", "")  # a part of the rules' labels
    for rule in rules(objects):
        if only not in rule.label():
            continue
        with tempfile.TemporaryDirectory() as work:
            apply(cluster, objects, without=rule)
            kubeconfig = token_kubeconfig(cluster, Path(work))
            failed = run_scenarios(cluster, kubeconfig, directory=Path(work), stop_at_first=True)
        table.append((rule.label(), failed[0] if failed else "-"))
    apply(cluster, objects)
    return table


def main() -> int:
    from tests.controlplane.launcher import LocalControlPlane

    with tempfile.TemporaryDirectory() as work:
        plane = LocalControlPlane(workdir=Path(work))
        cluster = plane.start()
        try:
            cluster.install_crds(ROOT / "crds")
            table = sweep(cluster, Helm(build_helm()))
        finally:
            plane.stop()
    width = max(len(rule) for rule, _ in table)
    print(f"{'rule removed':<{width}}  first failing scenario")
    for rule, scenario in table:
        print(f"{rule:<{width}}  {scenario}")
    return 0 if all(scenario != "-" for _, scenario in table) else 1


if __name__ == "__main__":
    raise SystemExit(main())
