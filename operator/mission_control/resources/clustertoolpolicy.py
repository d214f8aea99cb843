"""The ClusterToolPolicy resource: the cluster-wide ceiling of what namespaces' runs may use."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from mission_control.resources.common import KubernetesObject, Metadata, Resource
from mission_control.resources.notify import ClusterNotify
from mission_control.resources.schemas import patterns
from mission_control.resources.toolpolicy import (
    AppGlob,
    Approver,
    PolicyRule,
    ToolGlob,
    ToolPolicyStatus,
)

__all__ = [
    "ClusterToolPolicy",
    "ClusterToolPolicySpec",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ToolGrant",
]

LabelKey = Annotated[str, Field(min_length=1, max_length=317, pattern=patterns.LABEL_KEY)]
LabelValue = Annotated[str, Field(max_length=63, pattern=patterns.LABEL_VALUE)]


class LabelSelectorRequirement(Resource):
    """One ``matchExpressions`` entry, as in Kubernetes."""

    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[LabelValue] | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _values_fit_the_operator(self) -> LabelSelectorRequirement:
        if (self.operator in ("In", "NotIn")) != bool(self.values):
            raise ValueError(
                "In and NotIn need at least one value; Exists and DoesNotExist take none"
            )
        return self


class LabelSelector(Resource):
    """A Kubernetes label selector over namespaces; empty selects every namespace."""

    match_labels: dict[LabelKey, LabelValue] | None = Field(default=None, max_length=32)
    match_expressions: list[LabelSelectorRequirement] | None = Field(default=None, max_length=32)


class ToolGrant(Resource):
    """Namespaces selected by ``namespaces`` may use ``tools`` on ``target_applications``."""

    namespaces: LabelSelector
    tools: list[ToolGlob] = Field(min_length=1, max_length=64)
    target_applications: list[AppGlob] | None = Field(default=None, max_length=100)


class ClusterToolPolicySpec(Resource):
    """A ClusterToolPolicy's spec."""

    grants: list[ToolGrant] = Field(default_factory=list, max_length=100)
    rules: list[PolicyRule] = Field(default_factory=list, max_length=100)
    approvers: list[Approver] = Field(default_factory=list, max_length=50)
    notify: ClusterNotify | None = None


class ClusterToolPolicy(KubernetesObject):
    """A ClusterToolPolicy object (cluster-scoped: ``metadata.namespace`` is unset)."""

    api_version: Literal["missioncontrol.dev/v1alpha1"] = "missioncontrol.dev/v1alpha1"
    kind: Literal["ClusterToolPolicy"] = "ClusterToolPolicy"
    metadata: Metadata
    spec: ClusterToolPolicySpec
    status: ToolPolicyStatus | None = None
