"""Typed models of the custom resources (``missioncontrol.dev/v1alpha1``) and their CRDs.

Purely computational, no I/O. The models accept what the API server accepts: a test applies
objects built from them with server-side dry-run, and checks that they reject the manifests
the API server rejects.
"""

from mission_control.resources.clustertoolpolicy import (
    ClusterToolPolicy,
    ClusterToolPolicySpec,
    LabelSelector,
    LabelSelectorRequirement,
    ToolGrant,
)
from mission_control.resources.common import Condition, Metadata, ModelRef
from mission_control.resources.task import Limits, Param, PolicyRef, Task, TaskSpec, TaskStatus
from mission_control.resources.taskrun import (
    Approval,
    TaskRef,
    TaskRun,
    TaskRunParam,
    TaskRunSpec,
    TaskRunStatus,
)
from mission_control.resources.toolpolicy import (
    ApprovalSettings,
    Approver,
    Budgets,
    PolicyDefaults,
    PolicyRule,
    ToolPolicy,
    ToolPolicySpec,
)

__all__ = [
    "Approval",
    "ApprovalSettings",
    "Approver",
    "Budgets",
    "ClusterToolPolicy",
    "ClusterToolPolicySpec",
    "Condition",
    "LabelSelector",
    "LabelSelectorRequirement",
    "Limits",
    "Metadata",
    "ModelRef",
    "Param",
    "PolicyDefaults",
    "PolicyRef",
    "PolicyRule",
    "Task",
    "TaskRef",
    "TaskRun",
    "TaskRunParam",
    "TaskRunSpec",
    "TaskRunStatus",
    "TaskSpec",
    "TaskStatus",
    "ToolGrant",
    "ToolPolicy",
    "ToolPolicySpec",
]
