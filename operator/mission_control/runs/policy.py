"""The policy decision for one tool call: allow, hold for approval, deny, or preview.

Order: the Task's tools; the ClusterToolPolicies' grants (Kubernetes
tools need none); the namespace policy's ``targetNamespaces`` for Kubernetes tools; the Argo CD
application against the granting cluster grants' and the namespace policy's
``targetApplications``; then the action: the strictest matching cluster rule is a floor, the
namespace policy's first matching rule (else its default for the tool's risk) is raised to that
floor. A dry run turns an allowed mutating call into a preview.

Namespace selectors of grants are evaluated here from the run namespace's labels (see
:mod:`~mission_control.runs.selectors`), so the caller only passes the labels it read once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

from mission_control.resources.toolpolicy import Action
from mission_control.runs.selectors import NamespaceSelector

__all__ = [
    "BUILT_IN",
    "TARGET_ARGUMENTS",
    "ClusterPolicy",
    "Decision",
    "Grant",
    "NamespacePolicy",
    "NamespaceSelector",
    "Risk",
    "Rule",
    "RunScope",
    "ToolCall",
    "ToolFamily",
    "Verdict",
    "decide",
    "stricter",
    "sync_risk",
]

Risk = Literal["READ_ONLY", "SAFE_MUTATE", "DESTRUCTIVE"]
ToolFamily = Literal["kubernetes", "argocd", "other"]
#: ``Preview``: allowed, but the run is a dry run and the call is mutating.
Verdict = Literal["Allow", "RequireApproval", "Deny", "Preview"]

#: Which argument names the target of a call, per tool family (first one present wins).
TARGET_ARGUMENTS: Mapping[ToolFamily, tuple[str, ...]] = {
    "kubernetes": ("namespace",),
    "argocd": ("name", "app"),
    "other": (),
}
BUILT_IN = "built-in default"
_STRICTNESS: Mapping[Action, int] = {"Allow": 0, "RequireApproval": 1, "Deny": 2}


def stricter(first: Action, second: Action) -> Action:
    """The stricter of two actions (Allow < RequireApproval < Deny)."""
    return first if _STRICTNESS[first] >= _STRICTNESS[second] else second


@dataclass(frozen=True)
class Rule:
    """Tools matching any of ``tools`` (globs) get ``action``."""

    tools: tuple[str, ...]
    action: Action

    def matches(self, tool: str) -> bool:
        return _any_glob(tool, self.tools)


@dataclass(frozen=True)
class NamespacePolicy:
    """A namespace's ToolPolicy as the decision needs it.

    ``name`` is how decisions cite it (``ops/default``). ``target_namespaces`` None means the
    run's own namespace only; ``target_applications`` None means every application.
    """

    name: str = BUILT_IN
    rules: tuple[Rule, ...] = ()
    read_only: Action = "Allow"
    safe_mutate: Action = "Allow"
    destructive: Action = "RequireApproval"
    target_namespaces: tuple[str, ...] | None = None
    target_applications: tuple[str, ...] | None = None

    def default_for(self, risk: Risk) -> Action:
        return {
            "READ_ONLY": self.read_only,
            "SAFE_MUTATE": self.safe_mutate,
            "DESTRUCTIVE": self.destructive,
        }[risk]


@dataclass(frozen=True)
class Grant:
    """Namespaces selected by ``namespaces`` may use ``tools`` (globs) on those applications."""

    namespaces: NamespaceSelector
    tools: tuple[str, ...]
    target_applications: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ClusterPolicy:
    """A ClusterToolPolicy as the decision needs it; ``name`` without the ``cluster/`` prefix."""

    name: str
    grants: tuple[Grant, ...] = ()
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class RunScope:
    """What the run fixes for all its calls."""

    namespace: str
    task: str  # how denials cite the Task, e.g. ``ops/diagnose``
    task_tools: frozenset[str]
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    dry_run: bool = False


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for; ``risk`` comes from the code, never from the model.

    ``family`` is the tool's connector when it is ``kubernetes`` or ``argocd``, else ``other``;
    :data:`TARGET_ARGUMENTS` says which argument names the call's target in each family.
    """

    tool: str
    risk: Risk
    family: ToolFamily
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    """What to do with a call, who decided, and one sentence for the model and the audit.

    ``preview`` is true when the call, once allowed or approved, must only be previewed.
    """

    verdict: Verdict
    policy: str
    reason: str
    preview: bool = False


def sync_risk(arguments: Mapping[str, Any], *, target_revision: str | None) -> Risk:
    """Risk of ``argocd_sync_app``: its own target revision without prune is SAFE_MUTATE."""
    revision = arguments.get("revision")
    if arguments.get("prune") is True:
        return "DESTRUCTIVE"
    if revision is not None and revision != target_revision:
        return "DESTRUCTIVE"
    return "SAFE_MUTATE"


def decide(
    call: ToolCall,
    *,
    scope: RunScope,
    policy: NamespacePolicy,
    cluster: Sequence[ClusterPolicy],
) -> Decision:
    """Decide one call (pure; see the module docstring for the order)."""
    if call.tool not in scope.task_tools:
        listed = ", ".join(sorted(scope.task_tools))
        return _deny(
            f"task {scope.task}",
            f"tool {call.tool} is not among the Task's tools [{listed}]",
            cite=f"Task {scope.task}",
        )
    grants = _granting(call, scope=scope, cluster=cluster)
    if call.family != "kubernetes" and not grants:
        why = (
            f"no ClusterToolPolicy grants tool {call.tool} to namespace {scope.namespace}"
            if cluster
            else "there is no ClusterToolPolicy, so only Kubernetes tools are available"
        )
        return _deny("cluster", why, cite="the cluster's ClusterToolPolicies")
    target = _target(call)
    if call.family == "kubernetes":
        denial = _check_namespace(target, scope=scope, policy=policy)
        if denial is not None:
            return denial
    if call.family == "argocd":
        denial = _check_application(target, grants=grants, policy=policy)
        if denial is not None:
            return denial
    return _action(call, scope=scope, policy=policy, cluster=cluster)


def _granting(
    call: ToolCall, *, scope: RunScope, cluster: Sequence[ClusterPolicy]
) -> list[tuple[str, Grant]]:
    return [
        (cp.name, grant)
        for cp in cluster
        for grant in cp.grants
        if grant.namespaces.matches(scope.namespace_labels) and _any_glob(call.tool, grant.tools)
    ]


def _check_namespace(
    target: str | None, *, scope: RunScope, policy: NamespacePolicy
) -> Decision | None:
    allowed = policy.target_namespaces or (scope.namespace,)
    shown = ", ".join(allowed)
    if target is None:
        return _deny(policy.name, f"the call names no namespace; allowed are [{shown}]")
    if _any_glob(target, allowed):
        return None
    return _deny(policy.name, f"namespace {target} is outside targetNamespaces [{shown}]")


def _check_application(
    target: str | None, *, grants: Sequence[tuple[str, Grant]], policy: NamespacePolicy
) -> Decision | None:
    if target is None:
        return _deny(policy.name, "the call names no Argo CD application")
    if not any(
        g.target_applications is None or _any_glob(target, g.target_applications) for _, g in grants
    ):
        names = ", ".join(sorted({f"cluster/{name}" for name, _ in grants}))
        return _deny(names, f"application {target} is outside the targetApplications granted to it")
    apps = policy.target_applications
    if apps is not None and not _any_glob(target, apps):
        shown = ", ".join(apps)
        return _deny(policy.name, f"application {target} is outside targetApplications [{shown}]")
    return None


def _action(
    call: ToolCall, *, scope: RunScope, policy: NamespacePolicy, cluster: Sequence[ClusterPolicy]
) -> Decision:
    floor: tuple[Action, str] | None = None
    for cp in cluster:
        for rule in cp.rules:
            if not rule.matches(call.tool):
                continue
            if floor is None or stricter(rule.action, floor[0]) != floor[0]:
                floor = (rule.action, f"cluster/{cp.name}")
    rule_hit = next((rule for rule in policy.rules if rule.matches(call.tool)), None)
    if rule_hit is not None:
        action, why = rule_hit.action, f"a rule for {', '.join(rule_hit.tools)}"
    else:
        action, why = policy.default_for(call.risk), f"the default for {call.risk} tools"
    decided_by = policy.name
    if floor is not None and stricter(floor[0], action) != action:
        action, decided_by, why = floor[0], floor[1], f"a cluster rule for {call.tool}"
    mutating = call.risk != "READ_ONLY"
    preview = scope.dry_run and mutating and action != "Deny"
    verdict: Verdict = "Preview" if preview and action == "Allow" else action
    words = {
        "Allow": "allowed",
        "RequireApproval": "held for approval"
        + (" (dry run: previewed once approved)" if preview else ""),
        "Deny": "denied",
        "Preview": "previewed (dry run)",
    }[verdict]
    return Decision(
        verdict=verdict,
        policy=decided_by,
        reason=f"{words} by policy {decided_by}: {why} ({call.tool}, {call.risk})",
        preview=preview,
    )


def _target(call: ToolCall) -> str | None:
    for name in TARGET_ARGUMENTS[call.family]:
        value = call.arguments.get(name)
        if isinstance(value, str):
            return value
    return None


def _deny(policy: str, why: str, *, cite: str | None = None) -> Decision:
    cited = cite or f"policy {policy}"
    return Decision(verdict="Deny", policy=policy, reason=f"denied by {cited}: {why}")


def _any_glob(name: str, globs: Sequence[str]) -> bool:
    # fnmatchcase: case-sensitive on every platform, like Kubernetes names.
    return any(fnmatchcase(name, glob) for glob in globs)
