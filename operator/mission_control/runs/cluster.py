"""ClusterToolPolicies as the decisions take them: grants, rules and approvers.

Pure conversions from :mod:`mission_control.resources` models to the frozen inputs of
:func:`~mission_control.runs.policy.decide` and :func:`~mission_control.runs.approvals.evaluate`.
The handlers list the ClusterToolPolicies once per run start and pass them here.
"""

from __future__ import annotations

from collections.abc import Sequence

from mission_control.resources.clustertoolpolicy import ClusterToolPolicy, LabelSelector
from mission_control.resources.toolpolicy import Approver
from mission_control.runs.policy import ClusterPolicy, Grant, Rule
from mission_control.runs.selectors import NamespaceSelector, SelectorRequirement

__all__ = ["cluster_approvers", "cluster_policies", "cluster_policy", "namespace_selector"]


def namespace_selector(selector: LabelSelector) -> NamespaceSelector:
    """A grant's label selector; an empty one selects every namespace, as in Kubernetes."""
    return NamespaceSelector(
        match_labels=dict(selector.match_labels or {}),
        match_expressions=tuple(
            SelectorRequirement(
                key=requirement.key,
                operator=requirement.operator,
                values=tuple(requirement.values or ()),
            )
            for requirement in selector.match_expressions or ()
        ),
    )


def cluster_policy(policy: ClusterToolPolicy) -> ClusterPolicy:
    """One ClusterToolPolicy's grants and rules (cited as ``cluster/NAME`` in decisions)."""
    spec = policy.spec
    return ClusterPolicy(
        name=policy.metadata.name,
        grants=tuple(
            Grant(
                namespaces=namespace_selector(grant.namespaces),
                tools=tuple(grant.tools),
                target_applications=(
                    None if grant.target_applications is None else tuple(grant.target_applications)
                ),
            )
            for grant in spec.grants
        ),
        rules=tuple(Rule(tools=tuple(rule.tools), action=rule.action) for rule in spec.rules),
    )


def cluster_policies(policies: Sequence[ClusterToolPolicy]) -> tuple[ClusterPolicy, ...]:
    """Every ClusterToolPolicy, in name order so a run's snapshot does not depend on listing."""
    return tuple(cluster_policy(p) for p in sorted(policies, key=lambda p: p.metadata.name))


def cluster_approvers(policies: Sequence[ClusterToolPolicy]) -> tuple[Approver, ...]:
    """The approvers every ClusterToolPolicy adds to each namespace's, each listed once."""
    seen: dict[tuple[str, str], Approver] = {}
    for policy in sorted(policies, key=lambda p: p.metadata.name):
        for approver in policy.spec.approvers:
            seen.setdefault((approver.kind, approver.name), approver)
    return tuple(seen.values())
