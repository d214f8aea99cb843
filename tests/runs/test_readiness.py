"""The Ready verdict of Tasks and ToolPolicies: pure, so every reason is checked without I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mission_control.resources.common import Condition
from mission_control.resources.task import TaskSpec
from mission_control.runs.readiness import (
    Capabilities,
    Readiness,
    policy_readiness,
    ready_condition,
    task_readiness,
)

CAPABILITIES = Capabilities(
    tools=frozenset({"list_k8s_pods", "get_k8s_events", "list_proxmox_lxcs", "delete_k8s_pod"}),
    unavailable_tools={
        "list_proxmox_lxcs": "list_proxmox_lxcs needs proxmox: set PROXMOX_HOST and "
        "PROXMOX_API_TOKEN"
    },
    unconfigured_providers={"gemini": "GEMINI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"},
    default_provider="ollama",
)
NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def task(**spec: Any) -> TaskSpec:
    return TaskSpec.model_validate({"prompt": "Look.", "tools": ["list_k8s_pods"], **spec})


@pytest.mark.parametrize(
    ("spec", "policy_found", "reason", "words"),
    [
        (task(), None, "Valid", ""),
        (task(policyRef={"name": "strict"}), True, "Valid", ""),
        (task(tools=["list_k8s_pods", "list_k8s_podz"]), None, "UnknownTool", "list_k8s_podz"),
        (task(tools=["list_proxmox_lxcs"]), None, "ToolUnavailable", "set PROXMOX_HOST"),
        (task(model={"provider": "gemini"}), None, "ProviderUnavailable", "set GEMINI_API_KEY"),
        (task(policyRef={"name": "strict"}), False, "PolicyNotFound", "ToolPolicy strict"),
        (task(prompt="Look at $(params.ns)."), None, "InvalidParams", "does not declare ns"),
        (
            task(prompt="Look at $(params.ns).", params=[{"name": "ns"}]),
            None,
            "Valid",
            "",
        ),
        (task(systemPrompt="Only $(params.x)"), None, "InvalidParams", "$(params.x)"),
    ],
)
def test_task_readiness_names_what_to_fix(
    spec: TaskSpec, policy_found: bool | None, reason: str, words: str
) -> None:
    verdict = task_readiness(spec, capabilities=CAPABILITIES, policy_found=policy_found)

    assert verdict.reason == reason
    assert verdict.ready is (reason == "Valid")
    assert words in verdict.message


def test_the_default_provider_is_judged_when_the_task_names_none() -> None:
    capabilities = Capabilities(
        tools=CAPABILITIES.tools,
        unavailable_tools={},
        unconfigured_providers={"ollama": "OLLAMA_BASE_URL"},
        default_provider="ollama",
    )

    verdict = task_readiness(task(), capabilities=capabilities, policy_found=None)

    assert verdict.reason == "ProviderUnavailable"
    assert verdict.message == "the default provider ollama is not configured: set OLLAMA_BASE_URL"


def test_unknown_tools_are_reported_before_anything_else() -> None:
    spec = task(tools=["nope"], model={"provider": "gemini"}, policyRef={"name": "gone"})

    verdict = task_readiness(spec, capabilities=CAPABILITIES, policy_found=False)

    assert verdict.reason == "UnknownTool"


@pytest.mark.parametrize(
    ("rules", "reason", "words"),
    [
        ([], "Valid", ""),
        ([["delete_*"], ["list_k8s_pods", "get_*"]], "Valid", ""),
        ([["delet_*"]], "UnknownTool", "delet_*"),
        ([["delete_*", "restart_lxc"]], "UnknownTool", "restart_lxc match no registered tool"),
    ],
)
def test_policy_readiness_reports_globs_matching_no_tool(
    rules: list[list[str]], reason: str, words: str
) -> None:
    verdict = policy_readiness(rules, tools=CAPABILITIES.tools)

    assert verdict.reason == reason
    assert words in verdict.message


def test_ready_condition_keeps_its_transition_time_while_the_verdict_holds() -> None:
    earlier = datetime(2026, 1, 1, tzinfo=UTC)
    previous = Condition(
        type="Ready", status="False", reason="UnknownTool", last_transition_time=earlier
    )
    same = Readiness(ready=False, reason="UnknownTool", message="other words")
    fixed = Readiness(ready=True, reason="Valid", message="")

    kept = ready_condition(same, generation=2, now=NOW, previous=previous)
    moved = ready_condition(fixed, generation=3, now=NOW, previous=previous)

    assert kept.last_transition_time == earlier
    assert kept.observed_generation == 2
    assert moved.last_transition_time == NOW.replace(microsecond=0)
    assert (moved.status, moved.reason, moved.observed_generation) == ("True", "Valid", 3)
