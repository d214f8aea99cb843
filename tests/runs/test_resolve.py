"""What a run resolves at its start: identity, model, and the policy's defaults."""

from __future__ import annotations

from typing import Any

from mission_control.resources.task import TaskSpec
from mission_control.resources.taskrun import TaskRunSpec
from mission_control.resources.toolpolicy import ToolPolicySpec
from mission_control.runs.resolve import (
    DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    RunPolicy,
    impersonated_user,
    model_choice,
    run_policy,
    service_account,
)

TASK: dict[str, Any] = {"prompt": "Check.", "tools": ["list_k8s_pods"]}


def run_spec(**fields: Any) -> TaskRunSpec:
    return TaskRunSpec.model_validate({"taskRef": {"name": "check"}, **fields})


def test_the_taskruns_service_account_wins_then_the_tasks_then_the_default() -> None:
    task = TaskSpec.model_validate({**TASK, "serviceAccountName": "task-sa"})
    assert service_account(run=run_spec(serviceAccountName="run-sa"), task=task, default="d") == (
        "run-sa"
    )
    assert service_account(run=run_spec(), task=task, default="d") == "task-sa"
    assert service_account(run=run_spec(), task=TaskSpec.model_validate(TASK), default="d") == "d"


def test_a_service_account_is_impersonated_by_its_kubernetes_user_name() -> None:
    assert impersonated_user(namespace="media", service_account_name="agent") == (
        "system:serviceaccount:media:agent"
    )


def test_the_runs_model_wins_over_the_tasks_and_none_means_the_default() -> None:
    task = TaskSpec.model_validate({**TASK, "model": {"provider": "gemini", "name": "g"}})
    chosen = run_spec(model={"provider": "anthropic"})
    assert model_choice(run=chosen, task=task) == ("anthropic", None)
    assert model_choice(run=run_spec(), task=task) == ("gemini", "g")
    assert model_choice(run=run_spec(), task=TaskSpec.model_validate(TASK)) == (None, None)


def test_no_policy_is_the_built_in_default_and_a_policy_fills_what_it_leaves_out() -> None:
    assert run_policy(namespace="ops", name=None, generation=None, spec=None) == RunPolicy()
    policy = run_policy(
        namespace="ops",
        name="strict",
        generation=4,
        spec=ToolPolicySpec.model_validate({"defaults": {"safeMutate": "RequireApproval"}}),
    )
    assert policy.decision.name == "ops/strict"
    assert policy.generation == 4
    assert (policy.decision.read_only, policy.decision.safe_mutate) == ("Allow", "RequireApproval")
    assert policy.decision.destructive == "RequireApproval"
    assert policy.decision.target_namespaces is None  # the run's own namespace only
    assert policy.approval_timeout_seconds == DEFAULT_APPROVAL_TIMEOUT_SECONDS
