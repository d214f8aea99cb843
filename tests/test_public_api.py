"""Each package's public surface is exactly what its ``__all__`` says, and all of it exists.

A name added to or dropped from a package's surface must show up here, on purpose. The
``llm`` package has its own test (tests/llm/test_public_api.py).
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import mission_control

PUBLIC_SURFACES: dict[str, set[str]] = {
    "mission_control.agent": {
        "AgentLimits",
        "AgentServices",
        "ProviderSource",
        "RunControl",
        "RunOutcome",
        "RunReporter",
        "RunRequest",
        "drive_run",
        "report_invalid",
    },
    "mission_control.connectors": {"ConnectorName", "Connectors", "MISSING_SETTINGS"},
    "mission_control.connectors.kubernetes": {
        "K8sDeployment",
        "K8sEvent",
        "K8sNode",
        "K8sPod",
        "K8sScale",
        "K8sWorkload",
        "KubernetesConnector",
    },
    "mission_control.handlers": {
        "FINALIZER",
        "OperatorServices",
        "build_registry",
        "configure_kopf",
        "configure_logging",
        "parse_selector",
        "run_operator",
    },
    "mission_control.inventory": {
        "Inventory",
        "InventoryItem",
        "InventoryMetadata",
        "InventorySnapshot",
        "ItemKind",
        "Link",
        "SourceName",
        "SourceStatus",
        "load_metadata",
    },
    "mission_control.resources": {
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
    },
    "mission_control.runs": {
        "ApprovalEntry",
        "ApprovalOutcome",
        "ClusterPolicy",
        "Decision",
        "EffectiveLimits",
        "Grant",
        "IgnoredApproval",
        "InvalidParams",
        "LimitExceeded",
        "NamespacePolicy",
        "NamespaceSelector",
        "Pending",
        "PendingCall",
        "Rule",
        "RunReason",
        "RunScope",
        "SelectorRequirement",
        "Spent",
        "StepCounts",
        "TARGET_ARGUMENTS",
        "ToolCall",
        "args_digest",
        "build_status_patch",
        "canonical_json",
        "check",
        "decide",
        "effective",
        "evaluate",
        "substitute",
        "succeeded_condition",
        "sync_risk",
        "system_prompt",
        "transition_event",
        "truncate_utf8",
    },
    "mission_control.sidecar": {
        "AuthFailed",
        "Authenticator",
        "Caller",
        "EventHub",
        "SidecarServices",
        "build_services",
        "check_sidecar_settings",
        "create_app",
        "serve_sidecar",
    },
    "mission_control.telemetry": {"OperatorMetrics", "RunTracing", "serve_metrics"},
    "mission_control.store": {
        "require_audit_key",
        "ChainHead",
        "AuditKey",
        "AuditEntry",
        "Conversation",
        "EVENTS_CHANNEL",
        "EventNotice",
        "InvalidTransition",
        "InventoryKind",
        "InventoryObservation",
        "InventoryRecord",
        "InventoryRefresh",
        "JournalEvent",
        "JournalUnavailable",
        "MESSAGES_KEY",
        "MigrationError",
        "NotificationOutcome",
        "RecordNotFound",
        "RunRecord",
        "RunSnapshot",
        "SchemaTooOld",
        "SnapshotCounts",
        "Store",
        "StoreError",
        "StoreRejected",
        "TaskRecord",
        "TaskSnapshot",
        "ToolCallRecord",
        "ToolDefinitionRecord",
        "UsageEntry",
        "UsageSum",
        "UsageTotal",
        "VerifyResult",
        "apply_migrations",
        "required_version",
    },
    "mission_control.tools": {
        "ALL_TOOLS",
        "InvalidToolArguments",
        "RiskLevel",
        "Tool",
        "ToolAvailability",
        "ToolContext",
        "ToolOutcomeUnknown",
        "ToolOutput",
        "ToolRegistry",
        "UnknownTool",
        "default_registry",
        "invoke",
        "preview",
    },
    "mission_control.tools.kubernetes": {"KUBERNETES_TOOLS", "KubernetesToolError", "MAX_REPLICAS"},
    "mission_control.wiring": {
        "IN_CLUSTER_TOKEN",
        "build_connectors",
        "build_inventory",
        "build_tool_context",
    },
}

PACKAGES = sorted(
    module.name
    for module in pkgutil.walk_packages(mission_control.__path__, "mission_control.")
    if module.ispkg
)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_states_its_contract(package: str) -> None:
    module = importlib.import_module(package)
    assert (module.__doc__ or "").strip(), f"{package} has no docstring"


@pytest.mark.parametrize("package", sorted(PUBLIC_SURFACES))
def test_the_public_surface_is_what_all_lists_and_it_exists(package: str) -> None:
    module = importlib.import_module(package)
    public = getattr(module, "__all__", None)
    assert public is not None, f"{package} has no __all__"
    assert set(public) == PUBLIC_SURFACES[package]
    assert [name for name in public if not hasattr(module, name)] == []


def test_every_package_with_an_all_is_listed_here() -> None:
    with_all = {
        package for package in PACKAGES if hasattr(importlib.import_module(package), "__all__")
    }
    assert with_all - {"mission_control.llm"} == set(PUBLIC_SURFACES)
