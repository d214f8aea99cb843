"""The decision for one tool call, in order: Task tools, cluster grants, target namespaces,
target applications, cluster rules as a floor, namespace rules, defaults by risk, dry run."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from mission_control.resources.toolpolicy import Action
from mission_control.runs.policy import (
    ClusterPolicy,
    Decision,
    Grant,
    NamespacePolicy,
    Risk,
    Rule,
    RunScope,
    ToolCall,
    ToolFamily,
    decide,
    stricter,
    sync_risk,
)
from mission_control.runs.selectors import NamespaceSelector, SelectorRequirement

ALL_TOOLS = frozenset(
    {
        "list_k8s_pods",
        "restart_k8s_deployment",
        "delete_k8s_pod",
        "list_proxmox_lxcs",
        "restart_proxmox_lxc",
        "get_argocd_app_status",
        "argocd_sync_app",
        "argocd_rollback_app",
    }
)
AGENTS = NamespaceSelector(match_labels={"missioncontrol.dev/agents": "enabled"})
EVERYTHING = ClusterPolicy(
    name="everything", grants=(Grant(namespaces=NamespaceSelector(), tools=("*",)),)
)


def scope(**changes: Any) -> RunScope:
    values: dict[str, Any] = {
        "namespace": "ops",
        "task": "ops/diagnose",
        "task_tools": ALL_TOOLS,
        "namespace_labels": {"missioncontrol.dev/agents": "enabled"},
        "dry_run": False,
    }
    values.update(changes)
    return RunScope(**values)


def call(tool: str, risk: Risk, family: ToolFamily, **arguments: Any) -> ToolCall:
    return ToolCall(tool=tool, risk=risk, family=family, arguments=arguments)


PODS = call("list_k8s_pods", "READ_ONLY", "kubernetes", namespace="ops")
RESTART = call("restart_k8s_deployment", "SAFE_MUTATE", "kubernetes", namespace="ops", name="web")
DELETE = call("delete_k8s_pod", "DESTRUCTIVE", "kubernetes", namespace="ops", name="web-0")
LXCS = call("list_proxmox_lxcs", "READ_ONLY", "other")
REBOOT = call("restart_proxmox_lxc", "SAFE_MUTATE", "other", node="pve", vmid=101)
APP = call("get_argocd_app_status", "READ_ONLY", "argocd", name="media-web")
SYNC = call("argocd_sync_app", "SAFE_MUTATE", "argocd", name="media-web")
OPS = NamespacePolicy(name="ops/default")

# (id, call, scope changes, namespace policy, cluster policies, verdict, decided by, in reason)
PolicyCase = tuple[
    str, ToolCall, dict[str, Any], NamespacePolicy, tuple[ClusterPolicy, ...], str, str, str
]
CASES: list[PolicyCase] = [
    ("tool not in the Task", DELETE, {"task_tools": frozenset({"list_k8s_pods"})}, OPS,
     (EVERYTHING,), "Deny", "task ops/diagnose",
     "denied by Task ops/diagnose: tool delete_k8s_pod is not among the Task's tools "
     "[list_k8s_pods]"),
    ("not in the Task beats every allow", LXCS, {"task_tools": frozenset({"list_k8s_pods"})},
     NamespacePolicy(name="ops/open", rules=(Rule(tools=("*",), action="Allow"),)),
     (EVERYTHING,), "Deny", "task ops/diagnose", "not among the Task's tools"),
    ("no ClusterToolPolicy: only Kubernetes tools", LXCS, {}, OPS, (), "Deny", "cluster",
     "only Kubernetes tools are available"),
    ("no ClusterToolPolicy: Kubernetes tools need no grant", PODS, {}, OPS, (), "Allow",
     "ops/default", "allowed by policy ops/default"),
    ("grant selector does not select the namespace", LXCS, {"namespace_labels": {}}, OPS,
     (ClusterPolicy(name="agents", grants=(Grant(namespaces=AGENTS, tools=("list_*",)),)),),
     "Deny", "cluster", "no ClusterToolPolicy grants tool list_proxmox_lxcs to namespace ops"),
    ("grant selects the namespace but not the tool", REBOOT, {}, OPS,
     (ClusterPolicy(name="agents", grants=(Grant(namespaces=AGENTS, tools=("list_*",)),)),),
     "Deny", "cluster", "no ClusterToolPolicy grants tool restart_proxmox_lxc"),
    ("grant in any ClusterToolPolicy grants", REBOOT, {}, OPS,
     (ClusterPolicy(name="reads", grants=(Grant(namespaces=AGENTS, tools=("list_*",)),)),
      ClusterPolicy(name="reboots", grants=(Grant(namespaces=AGENTS, tools=("restart_*",)),))),
     "Allow", "ops/default", "allowed"),
    ("matchExpressions In selects", LXCS, {"namespace_labels": {"tier": "home"}}, OPS,
     (ClusterPolicy(name="x", grants=(Grant(namespaces=NamespaceSelector(match_expressions=(
         SelectorRequirement(key="tier", operator="In", values=("home", "lab")),)),
         tools=("*",)),)),), "Allow", "ops/default", "allowed"),
    ("matchExpressions NotIn excludes", LXCS, {"namespace_labels": {"tier": "prod"}}, OPS,
     (ClusterPolicy(name="x", grants=(Grant(namespaces=NamespaceSelector(match_expressions=(
         SelectorRequirement(key="tier", operator="NotIn", values=("prod",)),)),
         tools=("*",)),)),), "Deny", "cluster", "no ClusterToolPolicy grants"),
    ("matchExpressions Exists", LXCS, {"namespace_labels": {"agents": ""}}, OPS,
     (ClusterPolicy(name="x", grants=(Grant(namespaces=NamespaceSelector(match_expressions=(
         SelectorRequirement(key="agents", operator="Exists"),)), tools=("*",)),)),),
     "Allow", "ops/default", "allowed"),
    ("matchExpressions DoesNotExist", LXCS, {"namespace_labels": {"frozen": "yes"}}, OPS,
     (ClusterPolicy(name="x", grants=(Grant(namespaces=NamespaceSelector(match_expressions=(
         SelectorRequirement(key="frozen", operator="DoesNotExist"),)), tools=("*",)),)),),
     "Deny", "cluster", "no ClusterToolPolicy grants"),
    ("built-in targetNamespaces: the run's own namespace", PODS, {}, NamespacePolicy(), (),
     "Allow", "built-in default", "allowed by policy built-in default"),
    ("built-in targetNamespaces refuses another namespace",
     call("list_k8s_pods", "READ_ONLY", "kubernetes", namespace="kube-system"), {},
     NamespacePolicy(), (), "Deny", "built-in default",
     "denied by policy built-in default: namespace kube-system is outside targetNamespaces [ops]"),
    ("targetNamespaces refuses a namespace outside them",
     call("delete_k8s_pod", "DESTRUCTIVE", "kubernetes", namespace="kube-system", name="x"), {},
     NamespacePolicy(name="ops/default", target_namespaces=("media",)), (), "Deny",
     "ops/default",
     "denied by policy ops/default: namespace kube-system is outside targetNamespaces [media]"),
    ("targetNamespaces globs", call("list_k8s_pods", "READ_ONLY", "kubernetes",
                                    namespace="monitoring"), {},
     NamespacePolicy(name="ops/default", target_namespaces=("media", "mon*")), (), "Allow",
     "ops/default", "allowed"),
    ("targetNamespaces star", call("list_k8s_pods", "READ_ONLY", "kubernetes", namespace="x"),
     {}, NamespacePolicy(name="ops/default", target_namespaces=("*",)), (), "Allow",
     "ops/default", "allowed"),
    ("a Kubernetes call naming no namespace", call("list_k8s_pods", "READ_ONLY", "kubernetes"),
     {}, OPS, (), "Deny", "ops/default", "names no namespace"),
    ("cluster targetApplications refuse an app", call("argocd_sync_app", "SAFE_MUTATE",
                                                      "argocd", name="infra-dns"), {}, OPS,
     (ClusterPolicy(name="media", grants=(Grant(namespaces=AGENTS, tools=("*argocd*",),
                                                target_applications=("media-*",)),)),),
     "Deny", "cluster/media",
     "denied by policy cluster/media: application infra-dns is outside the targetApplications"),
    ("cluster targetApplications admit an app", SYNC, {}, OPS,
     (ClusterPolicy(name="media", grants=(Grant(namespaces=AGENTS, tools=("*argocd*",),
                                                target_applications=("media-*",)),)),),
     "Allow", "ops/default", "allowed"),
    ("namespace targetApplications narrow the grant",
     call("argocd_sync_app", "SAFE_MUTATE", "argocd", name="media-db"), {},
     NamespacePolicy(name="ops/default", target_applications=("media-web",)), (EVERYTHING,),
     "Deny", "ops/default",
     "denied by policy ops/default: application media-db is outside targetApplications "
     "[media-web]"),
    ("the app argument names the application too",
     call("argocd_sync_app", "SAFE_MUTATE", "argocd", app="media-web"), {},
     NamespacePolicy(name="ops/default", target_applications=("media-*",)), (EVERYTHING,),
     "Allow", "ops/default", "allowed"),
    ("an Argo CD call naming no application", call("argocd_sync_app", "SAFE_MUTATE", "argocd"),
     {}, OPS, (EVERYTHING,), "Deny", "ops/default", "names no Argo CD application"),
    ("a cluster rule is a floor over a namespace Allow", DELETE, {},
     NamespacePolicy(name="ops/default", rules=(Rule(tools=("delete_*",), action="Allow"),)),
     (ClusterPolicy(name="guard", rules=(Rule(tools=("delete_*",), action="RequireApproval"),)),),
     "RequireApproval", "cluster/guard", "held for approval by policy cluster/guard"),
    ("a cluster Allow never relaxes a namespace Deny", RESTART, {},
     NamespacePolicy(name="ops/default", rules=(Rule(tools=("restart_*",), action="Deny"),)),
     (ClusterPolicy(name="lax", rules=(Rule(tools=("*",), action="Allow"),)),),
     "Deny", "ops/default", "denied by policy ops/default: a rule for restart_*"),
    ("the strictest cluster rule wins", RESTART, {}, OPS,
     (ClusterPolicy(name="a", rules=(Rule(tools=("*",), action="RequireApproval"),)),
      ClusterPolicy(name="b", rules=(Rule(tools=("restart_*",), action="Deny"),)),
      ClusterPolicy(name="c", rules=(Rule(tools=("*",), action="Allow"),))),
     "Deny", "cluster/b", "denied by policy cluster/b"),
    ("namespace rules: the first match wins", RESTART, {},
     NamespacePolicy(name="ops/default", rules=(
         Rule(tools=("restart_*",), action="RequireApproval"), Rule(tools=("*",), action="Deny"))),
     (), "RequireApproval", "ops/default", "held for approval by policy ops/default"),
    ("no rule matches: default for READ_ONLY", PODS, {}, OPS, (), "Allow", "ops/default",
     "the default for READ_ONLY tools"),
    ("no rule matches: default for SAFE_MUTATE", RESTART, {}, OPS, (), "Allow", "ops/default",
     "the default for SAFE_MUTATE tools"),
    ("no rule matches: default for DESTRUCTIVE", DELETE, {}, OPS, (), "RequireApproval",
     "ops/default", "the default for DESTRUCTIVE tools"),
    ("the namespace's own defaults", RESTART, {},
     NamespacePolicy(name="ops/strict", safe_mutate="Deny"), (), "Deny", "ops/strict",
     "the default for SAFE_MUTATE tools"),
    ("dry run previews an allowed mutating call", RESTART, {"dry_run": True}, OPS, (),
     "Preview", "ops/default", "previewed (dry run)"),
    ("dry run does not touch read-only calls", PODS, {"dry_run": True}, OPS, (), "Allow",
     "ops/default", "allowed"),
    ("dry run keeps a hold (previewed once approved)", DELETE, {"dry_run": True}, OPS, (),
     "RequireApproval", "ops/default", "held for approval"),
    ("dry run keeps a denial", RESTART, {"dry_run": True},
     NamespacePolicy(name="ops/default", rules=(Rule(tools=("*",), action="Deny"),)), (),
     "Deny", "ops/default", "denied"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("the_call", "changes", "policy", "cluster", "verdict", "decided_by", "reason"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_decision_table(
    the_call: ToolCall,
    changes: dict[str, Any],
    policy: NamespacePolicy,
    cluster: tuple[ClusterPolicy, ...],
    verdict: str,
    decided_by: str,
    reason: str,
) -> None:
    decision = decide(the_call, scope=scope(**changes), policy=policy, cluster=cluster)

    assert (decision.verdict, decision.policy) == (verdict, decided_by)
    assert reason in decision.reason


def test_preview_flag_follows_dry_run_for_mutating_calls_that_are_not_denied() -> None:
    held = decide(DELETE, scope=scope(dry_run=True), policy=OPS, cluster=())
    live = decide(DELETE, scope=scope(), policy=OPS, cluster=())

    assert (held.preview, live.preview) == (True, False)


# Every combination of the order, against a plain statement of the rules.
RULE_CHOICES: tuple[Action | None, ...] = (None, "Allow", "RequireApproval", "Deny")
MUTATING: tuple[Risk, ...] = ("SAFE_MUTATE", "DESTRUCTIVE")
RISKS: tuple[Risk, ...] = ("READ_ONLY", *MUTATING)


def expected(
    *,
    in_task: bool,
    granted: bool,
    target_ok: bool,
    cluster_rule: Action | None,
    ns_rule: Action | None,
    risk: Risk,
    dry_run: bool,
) -> str:
    if not (in_task and granted and target_ok):
        return "Deny"
    action: Action = ns_rule or ("RequireApproval" if risk == "DESTRUCTIVE" else "Allow")
    if cluster_rule is not None:
        action = stricter(cluster_rule, action)
    if dry_run and action == "Allow" and risk != "READ_ONLY":
        return "Preview"
    return action


def _decide_argocd(
    *,
    in_task: bool,
    granted: bool,
    app_ok: bool,
    cluster_rule: Action | None,
    ns_rule: Action | None,
    risk: Risk,
    dry_run: bool,
    cluster_apps: bool,
) -> Decision:
    tools = ALL_TOOLS if in_task else frozenset({"list_k8s_pods"})
    grant = Grant(
        namespaces=AGENTS if granted else NamespaceSelector(match_labels={"never": "x"}),
        tools=("argocd_*",),
        target_applications=(("media-*",) if cluster_apps else None),
    )
    rules = () if cluster_rule is None else (Rule(tools=("argocd_*",), action=cluster_rule),)
    policy = NamespacePolicy(
        name="ops/default",
        rules=() if ns_rule is None else (Rule(tools=("argocd_sync_app",), action=ns_rule),),
        target_applications=None if cluster_apps else ("media-*",),
    )
    app = "media-web" if app_ok else "infra-dns"
    return decide(
        call("argocd_sync_app", risk, "argocd", name=app),
        scope=scope(task_tools=tools, dry_run=dry_run),
        policy=policy,
        cluster=(ClusterPolicy(name="c", grants=(grant,), rules=rules),),
    )


@pytest.mark.parametrize(
    ("in_task", "granted", "app_ok", "cluster_apps"),
    list(itertools.product([True, False], repeat=4)),
)
def test_every_combination_for_an_argocd_tool(
    in_task: bool, granted: bool, app_ok: bool, cluster_apps: bool
) -> None:
    for cluster_rule, ns_rule, risk, dry_run in itertools.product(
        RULE_CHOICES, RULE_CHOICES, MUTATING, (False, True)
    ):
        decision = _decide_argocd(
            in_task=in_task,
            granted=granted,
            app_ok=app_ok,
            cluster_rule=cluster_rule,
            ns_rule=ns_rule,
            risk=risk,
            dry_run=dry_run,
            cluster_apps=cluster_apps,
        )
        want = expected(
            in_task=in_task,
            granted=granted,
            target_ok=app_ok,
            cluster_rule=cluster_rule,
            ns_rule=ns_rule,
            risk=risk,
            dry_run=dry_run,
        )
        assert decision.verdict == want, (cluster_rule, ns_rule, risk, dry_run, decision)


@pytest.mark.parametrize(
    ("in_task", "namespace_ok", "with_cluster_policy"),
    list(itertools.product([True, False], repeat=3)),
)
def test_every_combination_for_a_kubernetes_tool(
    in_task: bool, namespace_ok: bool, with_cluster_policy: bool
) -> None:
    for cluster_rule, ns_rule, risk, dry_run in itertools.product(
        RULE_CHOICES, RULE_CHOICES, RISKS, (False, True)
    ):
        rules = () if cluster_rule is None else (Rule(tools=("*_k8s_*",), action=cluster_rule),)
        # Kubernetes tools need no grant: the cluster policy here grants nothing.
        cluster = (ClusterPolicy(name="c", rules=rules),) if with_cluster_policy else ()
        policy = NamespacePolicy(
            name="ops/default",
            rules=() if ns_rule is None else (Rule(tools=("*",), action=ns_rule),),
            target_namespaces=("media", "ops"),
        )
        decision = decide(
            call("scale_k8s_deployment", risk, "kubernetes",
                 namespace="media" if namespace_ok else "kube-system", name="web"),
            scope=scope(task_tools=ALL_TOOLS | {"scale_k8s_deployment"} if in_task else ALL_TOOLS,
                        dry_run=dry_run),
            policy=policy,
            cluster=cluster,
        )  # fmt: skip
        want = expected(
            in_task=in_task,
            granted=True,
            target_ok=namespace_ok,
            cluster_rule=cluster_rule if with_cluster_policy else None,
            ns_rule=ns_rule,
            risk=risk,
            dry_run=dry_run,
        )
        assert decision.verdict == want, (cluster_rule, ns_rule, risk, dry_run, decision)


@pytest.mark.parametrize(
    ("arguments", "target_revision", "risk"),
    [
        ({"name": "web"}, "main", "SAFE_MUTATE"),
        ({"name": "web", "revision": "main"}, "main", "SAFE_MUTATE"),
        ({"name": "web", "prune": False}, "main", "SAFE_MUTATE"),
        ({"name": "web", "revision": "v2"}, "main", "DESTRUCTIVE"),
        ({"name": "web", "prune": True}, "main", "DESTRUCTIVE"),
        ({"name": "web", "revision": "main", "prune": True}, "main", "DESTRUCTIVE"),
        ({"name": "web", "revision": "main"}, None, "DESTRUCTIVE"),
    ],
)
def test_the_risk_of_an_argocd_sync_comes_from_its_arguments(
    arguments: dict[str, Any], target_revision: str | None, risk: str
) -> None:
    assert sync_risk(arguments, target_revision=target_revision) == risk
