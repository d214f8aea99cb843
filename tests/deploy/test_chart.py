"""The chart rendered by the real helm: lint, the schema's messages, and what the objects say.

What the API server makes of them is in test_chart_server.py; these read the rendered YAML.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.deploy.chart import ALL_OPTIONS, CHART, Helm, by_kind, documents, named


@pytest.mark.parametrize("values", [[], ["-f", str(ALL_OPTIONS)]], ids=["default", "all-options"])
def test_helm_lint_strict_passes(helm: Helm, values: list[str]) -> None:
    result = helm.run("lint", "--strict", str(CHART), *values)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("replicaCount=two", "at '/replicaCount': got string, want integer"),
        ("replicaCount=-1", "at '/replicaCount': minimum: got -1, want 0"),
        (
            "config.defaultProvider=openai",
            "at '/config/defaultProvider': value must be one of 'ollama', 'gemini', 'anthropic'",
        ),
        ("sidecar.auth=oauth", "at '/sidecar/auth': value must be one of 'token', 'kubernetes'"),
        ("config.maxConcurent=3", "additional properties 'maxConcurent' not allowed"),
        ("watchNamespaces[0]=Media", "at '/watchNamespaces/0'"),
        ("clusterToolPolicy.enabled=true", "at '/clusterToolPolicy/tools': minItems: got 0"),
        ("podSecurityContext.runAsNonRoot=false", "at '/podSecurityContext/runAsNonRoot'"),
    ],
)
def test_bad_values_fail_with_the_schemas_message(helm: Helm, setting: str, message: str) -> None:
    # `helm install` validates exactly like `helm template` (same schema pass, before rendering).
    result = helm.run("template", "mc", str(CHART), "--set", setting, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr


def test_every_value_is_described_by_the_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(node: dict[str, Any], data: dict[str, Any], path: str) -> None:
        assert node.get("additionalProperties") is False, f"{path or '/'} accepts unknown keys"
        for key, value in data.items():
            assert key in node["properties"], f"{path}/{key} is not in values.schema.json"
            child = node["properties"][key]
            assert child.get("description"), f"{path}/{key} has no description"
            # Our own sections are closed; Kubernetes types (securityContext...) stay open.
            if isinstance(value, dict) and child.get("additionalProperties") is False:
                walk(child, value, f"{path}/{key}")

    walk(schema, values, "")


def _rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r for kind in ("ClusterRole", "Role") for o in by_kind(objects, kind) for r in o["rules"]
    ]


@pytest.mark.parametrize("values", [[], ["-f", str(ALL_OPTIONS)]], ids=["default", "all-options"])
def test_rbac_has_no_wildcard_reads_no_secrets_impersonates_only_serviceaccounts(
    helm: Helm, values: list[str]
) -> None:
    objects = documents(helm.template(*values))
    rules = _rules(objects)
    assert rules
    # Not even with the Alertmanager receiver on (all options): TaskTriggers' tokens are read
    # as the agent ServiceAccount of the trigger's namespace, through impersonation.
    assert [rule for rule in rules if "secrets" in rule["resources"]] == []
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(field, []), rule
        if "impersonate" in rule["verbs"]:
            assert rule["resources"] == ["serviceaccounts"], rule
            assert rule["apiGroups"] == [""], rule
    # Writes of the sidecar: only reviews (they change nothing), and only with kubernetes auth.
    sidecar = named(objects, "ClusterRole", "mission-control-sidecar")
    for rule in sidecar["rules"]:
        if set(rule["verbs"]) - {"get", "list", "watch"}:
            assert rule["verbs"] == ["create"], rule
            assert rule["resources"] in (["tokenreviews"], ["subjectaccessreviews"]), rule


def test_impersonation_is_limited_to_the_listed_serviceaccounts(helm: Helm) -> None:
    default = _impersonation(documents(helm.template()))
    assert "resourceNames" not in default
    listed = _impersonation(documents(helm.template("-f", str(ALL_OPTIONS))))
    assert listed["resourceNames"] == ["mission-control-agent", "media-fixer"]


def _impersonation(objects: list[dict[str, Any]]) -> dict[str, Any]:
    [rule] = [r for r in _rules(objects) if "impersonate" in r["verbs"]]
    return rule


@pytest.mark.parametrize("values", [[], ["-f", str(ALL_OPTIONS)]], ids=["default", "all-options"])
def test_every_container_runs_locked_down(helm: Helm, values: list[str]) -> None:
    objects = documents(helm.template(*values))
    workloads = by_kind(objects, "Deployment") + by_kind(objects, "StatefulSet")
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in pod.get("initContainers", []) + pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, container["name"]
            assert context["allowPrivilegeEscalation"] is False, container["name"]
            assert context["capabilities"] == {"drop": ["ALL"]}, container["name"]
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, container["name"]


def test_operator_and_sidecar_each_carry_their_own_identity(helm: Helm) -> None:
    objects = documents(helm.template())
    deployment = named(objects, "Deployment", "mission-control")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert pod["serviceAccountName"] == "mission-control"
    mounts = {
        c["name"]: {m["name"]: m["mountPath"] for m in c["volumeMounts"]} for c in pod["containers"]
    }
    token_path = "/var/run/secrets/kubernetes.io/serviceaccount"
    assert mounts["operator"]["operator-token"] == token_path
    assert "sidecar-token" not in mounts["operator"]
    assert mounts["sidecar"]["sidecar-token"] == token_path
    assert "operator-token" not in mounts["sidecar"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["sidecar-token"]["secret"]["secretName"] == "mission-control-sidecar-token"
    token = named(objects, "Secret", "mission-control-sidecar-token")
    assert token["type"] == "kubernetes.io/service-account-token"
    assert (
        token["metadata"]["annotations"]["kubernetes.io/service-account.name"]
        == "mission-control-sidecar"
    )
    binding = named(objects, "ClusterRoleBinding", "mission-control-sidecar")
    assert binding["subjects"][0]["name"] == "mission-control-sidecar"


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_each_process_connects_as_its_own_database_role(helm: Helm) -> None:
    for values, expect in (
        ([], {"migrate": "database-owner-url", "operator": "database-url"}),
        (["-f", str(ALL_OPTIONS)], {"migrate": "mission_control:", "operator": "mc_app:"}),
    ):
        objects = documents(helm.template(*values))
        pod = named(objects, "Deployment", "mission-control")["spec"]["template"]["spec"]
        containers = {c["name"]: c for c in pod["initContainers"] + pod["containers"]}
        assert containers["migrate"]["args"][0] == "migrate"
        urls = {name: json.dumps(_env(c)["DATABASE_URL"]) for name, c in containers.items()}
        assert expect["migrate"] in urls["migrate"]
        assert expect["operator"] in urls["operator"]
        sidecar = urls["sidecar"]
        assert "database-readonly-url" in sidecar or "mc_ro:" in sidecar


def test_all_options_wire_every_setting(helm: Helm) -> None:
    objects = documents(helm.template("-f", str(ALL_OPTIONS)))
    pod = named(objects, "Deployment", "mission-control")["spec"]["template"]["spec"]
    operator = next(c for c in pod["containers"] if c["name"] == "operator")
    env = _env(operator)
    assert operator["args"] == [
        "operator",
        "--namespace=media",
        "--namespace=team-*",
        "--liveness=http://0.0.0.0:9091/healthz",
    ]
    assert env["MC_DEFAULT_PROVIDER"] == "anthropic"
    assert env["PROXMOX_HOST"] == "pve.home.lan:8006"
    assert env["PROXMOX_VERIFY_TLS"] == "false"
    assert env["ARGOCD_TOKEN"]["secretKeyRef"]["key"] == "argocd-token"
    assert env["MC_PRICES_FILE"] == "/etc/mission-control/config/prices.yaml"
    assert env["OLLAMA_NUM_CTX"] == "8192"
    assert env["MC_PUBLIC_URL"] == "https://mission-control.home.lan"
    assert env["MC_NOTIFY_URLS_FILE"] == "/etc/mission-control/notify/urls"
    assert env["MC_NOTIFY_ON"] == "AwaitingApproval,Failed"
    [notify] = [v for v in pod["volumes"] if v["name"] == "notify-urls"]
    assert notify["secret"]["items"] == [{"key": "notify-urls", "path": "urls"}]
    assert env["MC_WEBHOOK_PORT"] == "9093"
    service = named(objects, "Service", "mission-control")
    assert {"name": "webhook", "port": 9093, "targetPort": "webhook"} in service["spec"]["ports"]
    config = named(objects, "ConfigMap", "mission-control")
    assert yaml.safe_load(config["data"]["prices.yaml"]) == {
        "claude-sonnet-4-6": {"input": "3", "output": "15"}
    }
    policy = named(objects, "ClusterToolPolicy", "mission-control")
    [grant] = policy["spec"]["grants"]
    assert grant["namespaces"]["matchExpressions"][0]["values"] == ["media"]
    agents = [
        (o["metadata"]["namespace"], o["roleRef"]["name"])
        for o in by_kind(objects, "RoleBinding")
        if o["metadata"]["name"].startswith("mission-control-agent")
    ]
    assert agents == [("media", "view"), ("monitoring", "view")]
    assert named(objects, "StatefulSet", "mission-control-postgresql")
    assert named(objects, "ServiceMonitor", "mission-control")
    assert named(objects, "PrometheusRule", "mission-control")
    assert named(objects, "ConfigMap", "mission-control-dashboard")


def test_default_install_has_no_optional_parts(helm: Helm) -> None:
    kinds = {o["kind"] for o in documents(helm.template())}
    optional = {"StatefulSet", "ServiceMonitor", "ClusterToolPolicy", "ConfigMap", "PrometheusRule"}
    assert kinds.isdisjoint(optional)
    assert {"NetworkPolicy", "PodDisruptionBudget", "Service", "Deployment"} <= kinds


def test_the_stamping_policy_is_left_out_where_the_api_server_lacks_it(helm: Helm) -> None:
    result = helm.run("template", "mc", str(CHART), "--kube-version", "1.33.0")
    kinds = {o["kind"] for o in documents(result.stdout)}
    assert "ValidatingAdmissionPolicy" in kinds
    assert "MutatingAdmissionPolicy" not in kinds


def _operator_args(objects: list[dict[str, Any]]) -> list[str]:
    [deployment] = by_kind(objects, "Deployment")
    [operator] = [c for c in deployment["spec"]["template"]["spec"]["containers"]
                  if c["name"] == "operator"]  # fmt: skip
    return list(operator["args"])


def _kopf_rules(objects: list[dict[str, Any]]) -> list[tuple[list[str], list[str]]]:
    role = named(objects, "ClusterRole", "mission-control-operator")
    return [(r["resources"], r["verbs"]) for r in role["rules"] if r["apiGroups"] == ["kopf.dev"]]


def test_one_replica_runs_standalone(helm: Helm) -> None:
    objects = documents(helm.template())
    assert not any(a.startswith("--peering") for a in _operator_args(objects))
    assert _kopf_rules(objects) == []
    assert not by_kind(objects, "ClusterKopfPeering")
    assert by_kind(objects, "PodDisruptionBudget")[0]["spec"]["maxUnavailable"] == 1


def test_two_replicas_peer_cluster_wide(helm: Helm) -> None:
    objects = documents(helm.template("--set", "replicaCount=2"))
    [deployment] = by_kind(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    args = _operator_args(objects)
    assert "--all-namespaces" in args
    # No --priority: the replicas share their arguments; the one started first is active.
    assert "--peering=mission-control" in args
    assert not any(a.startswith("--priority") for a in args)
    [peering] = by_kind(objects, "ClusterKopfPeering")
    assert peering["metadata"]["name"] == "mission-control"
    assert _kopf_rules(objects) == [
        (["clusterkopfpeerings"], ["list", "watch"]),
        (["clusterkopfpeerings"], ["patch"]),
    ]
    # A drain leaves one replica to drive the runs; the two prefer different nodes.
    [pdb] = by_kind(objects, "PodDisruptionBudget")
    assert pdb["spec"] == {
        "minAvailable": 1,
        "selector": deployment["spec"]["selector"],
    }
    anti = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    [term] = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"


def test_two_replicas_peer_in_each_listed_namespace(helm: Helm) -> None:
    objects = documents(helm.template("--set", "replicaCount=2", "--set", "watchNamespaces={a,b}"))
    assert {"--namespace=a", "--namespace=b", "--peering=mission-control"} <= set(
        _operator_args(objects)
    )
    peerings = by_kind(objects, "KopfPeering")
    assert sorted((p["metadata"]["namespace"], p["metadata"]["name"]) for p in peerings) == [
        ("a", "mission-control"),
        ("b", "mission-control"),
    ]
    assert not by_kind(objects, "ClusterKopfPeering")
    assert _kopf_rules(objects) == [
        (["kopfpeerings"], ["list", "watch"]),
        (["kopfpeerings"], ["patch"]),
    ]


def test_two_replicas_with_a_namespace_glob_fail_with_a_message(helm: Helm) -> None:
    glob = ("--set", "replicaCount=2", "--set", "watchNamespaces={team-*}")
    result = helm.run("template", "mc", str(CHART), *glob, check=False)
    assert result.returncode != 0
    assert '"team-*" is a glob; with replicaCount above 1' in result.stderr
