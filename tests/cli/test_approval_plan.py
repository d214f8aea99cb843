"""What ``approve|reject`` sends, decided from the TaskRun and the caller (no API server)."""

from __future__ import annotations

from typing import Any

import pytest

from mission_control.approval_cli import DecisionError, plan
from mission_control.connectors.kubernetes.taskruns import CallerIdentity

DIGEST = "sha256:" + "b" * 64
CAROL = CallerIdentity(username="carol", groups=("sre", "system:authenticated"))


def held(approvals: list[dict[str, Any]] | None = None, **status: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "metadata": {"namespace": "ops", "name": "run-1"},
        "spec": {"taskRef": {"name": "t"}},
        "status": {
            "pendingApproval": {
                "toolCallId": "tc-3",
                "tool": "delete_k8s_pod",
                "risk": "DESTRUCTIVE",
                "arguments": '{"name":"web-0","namespace":"media"}',
                "argsDigest": DIGEST,
                "requestedAt": "2026-01-01T00:00:00Z",
                "expiresAt": "2026-01-01T01:00:00Z",
            },
            **status,
        },
    }
    if approvals is not None:
        run["spec"]["approvals"] = approvals
    return run


def test_the_entry_carries_the_callers_identity_and_the_pending_digest() -> None:
    decided = plan(held(), caller=CAROL, decision="Approve", tool_call=None, message="off-peak")
    assert decided.entry == {
        "toolCallId": "tc-3",
        "decision": "Approve",
        "by": "carol",
        "argsDigest": DIGEST,
        "groups": ["sre", "system:authenticated"],
        "message": "off-peak",
    }


def test_the_patch_tests_the_pending_call_before_appending() -> None:
    first = plan(held(), caller=CAROL, decision="Reject", tool_call="tc-3", message=None)
    assert first.operations == [
        {"op": "test", "path": "/status/pendingApproval/toolCallId", "value": "tc-3"},
        {"op": "test", "path": "/status/pendingApproval/argsDigest", "value": DIGEST},
        {"op": "test", "path": "/spec/approvals", "value": None},
        {"op": "add", "path": "/spec/approvals", "value": [first.entry]},
    ]
    other = {"toolCallId": "tc-3", "decision": "Approve", "by": "dave"}
    later = plan(held([other]), caller=CAROL, decision="Approve", tool_call=None, message=None)
    assert later.operations[-1] == {"op": "add", "path": "/spec/approvals/-", "value": later.entry}
    assert "message" not in later.entry


def test_a_caller_without_groups_sends_none() -> None:
    alone = CallerIdentity(username="bot", groups=())
    decided = plan(held(), caller=alone, decision="Approve", tool_call=None, message=None)
    assert "groups" not in decided.entry


@pytest.mark.parametrize(
    ("run", "tool_call", "says"),
    [
        (
            {"metadata": {"namespace": "ops", "name": "run-1"}, "spec": {}},
            None,
            "taskrun ops/run-1 has no tool call awaiting approval (not started yet)",
        ),
        (
            {
                "metadata": {"namespace": "ops", "name": "run-1"},
                "status": {
                    "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}]
                },
            },
            None,
            "no tool call awaiting approval (Succeeded=True, reason Succeeded)",
        ),
        (
            held(),
            "tc-9",
            "tool call tc-9 is not the one awaiting approval in taskrun ops/run-1: that is tc-3 "
            '(delete_k8s_pod {"name":"web-0","namespace":"media"}); nothing was recorded',
        ),
        (
            held([{"toolCallId": "tc-3", "decision": "Reject", "by": "carol"}]),
            None,
            "you (carol) already decided tool call tc-3 of taskrun ops/run-1 (Reject)",
        ),
    ],
    ids=["not-started", "finished", "other-call", "already-decided"],
)
def test_a_decision_that_cannot_apply_says_why(
    run: dict[str, Any], tool_call: str | None, says: str
) -> None:
    with pytest.raises(DecisionError) as caught:
        plan(run, caller=CAROL, decision="Approve", tool_call=tool_call, message=None)
    assert says in str(caught.value)


def test_someone_elses_decision_on_the_same_call_does_not_block_yours() -> None:
    others = [
        {"toolCallId": "tc-3", "decision": "Approve", "by": "dave"},
        {"toolCallId": "tc-2", "decision": "Approve", "by": "carol"},
    ]
    decided = plan(held(others), caller=CAROL, decision="Approve", tool_call=None, message=None)
    assert decided.entry["by"] == "carol"


@pytest.mark.parametrize("command", ["approve", "reject"])
def test_both_commands_explain_themselves_in_both_entry_points(command: str) -> None:
    from click.testing import CliRunner

    from mission_control.approval_cli import kubectl_plugin
    from mission_control.cli import cli

    for group in (cli, kubectl_plugin):
        result = CliRunner().invoke(group, [command, "--help"])
        assert result.exit_code == 0
        assert "as yourself" in result.output
        for option in ("--namespace", "--tool-call", "--message", "--context"):
            assert option in result.output
