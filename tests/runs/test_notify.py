"""What a notification says and who hears it: pure functions of the status patch and policies."""

from __future__ import annotations

from typing import Any

import pytest

from mission_control.resources.clustertoolpolicy import ClusterToolPolicy
from mission_control.resources.toolpolicy import ToolPolicySpec
from mission_control.runs.notify import (
    ARGUMENTS_MAX_CHARS,
    DEFAULT_ON,
    NotifyRoute,
    compose,
    notice_of,
    notify_routes,
    redact_arguments,
    wanted_by,
)

CANARY = "canary-7f3a9c"


def held_patch(arguments: str = '{"namespace":"media","name":"web-0"}') -> dict[str, Any]:
    return {
        "conditions": [
            {
                "type": "Succeeded",
                "status": "Unknown",
                "reason": "AwaitingApproval",
                "message": "delete_k8s_pod media/web-0 (DESTRUCTIVE) needs approval",
            }
        ],
        "pendingApproval": {
            "toolCallId": "tc-3",
            "tool": "delete_k8s_pod",
            "risk": "DESTRUCTIVE",
            "arguments": arguments,
        },
    }


def ended_patch(reason: str, message: str = "maxSteps 2 reached") -> dict[str, Any]:
    status = "True" if reason == "Succeeded" else "False"
    return {
        "conditions": [
            {"type": "Succeeded", "status": status, "reason": reason, "message": message}
        ],
        "pendingApproval": None,
    }


def notice(patch: dict[str, Any]) -> Any:
    return notice_of(patch, namespace="ops", name="evict-1", uid="u-1", task="ops/evict")


def route(**fields: Any) -> NotifyRoute:
    return NotifyRoute(namespace="ops", secret_name="mc-notify", secret_key="urls", **fields)


def test_a_held_call_message_has_the_tool_risk_arguments_and_both_commands() -> None:
    message = compose(notice(held_patch()), public_url="https://mc.example.lan/")

    assert message.title == "Approval needed: ops/evict-1"
    assert message.body.splitlines() == [
        "ops/evict-1 (Task ops/evict) wants to call delete_k8s_pod (DESTRUCTIVE).",
        'Arguments: {"namespace":"media","name":"web-0"}',
        "Approve: kubectl mc approve evict-1 -n ops --tool-call tc-3",
        "Reject: kubectl mc reject evict-1 -n ops --tool-call tc-3",
        "https://mc.example.lan/ui/#/runs/ops/evict-1",
    ]
    assert message.severity == "approval"
    assert message.link == "https://mc.example.lan/ui/#/runs/ops/evict-1"


def test_without_a_public_url_there_is_no_link() -> None:
    message = compose(notice(ended_patch("LimitExceeded")), public_url=None)

    assert message.title == "LimitExceeded: ops/evict-1"
    assert message.body == "ops/evict-1 (Task ops/evict): maxSteps 2 reached"
    assert message.link is None
    assert message.severity == "failure"


def test_secret_looking_arguments_are_masked_and_long_ones_shortened() -> None:
    arguments = f'{{"host":"db","password":"{CANARY}","nested":{{"apiToken":"{CANARY}"}}}}'

    shown = redact_arguments(arguments)

    assert CANARY not in shown
    assert shown == '{"host":"db","password":"***","nested":{"apiToken":"***"}}'
    long = redact_arguments('{"text":"' + "x" * 1000 + '"}')
    assert len(long) == ARGUMENTS_MAX_CHARS
    assert long.endswith("…")


def test_arguments_cut_by_the_status_limit_are_still_masked() -> None:
    cut = f'{{"user":"admin","secret":"{CANARY}","more":"…[truncated]'

    assert CANARY not in redact_arguments(cut)


def test_the_message_body_is_short_enough_for_a_phone() -> None:
    message = compose(
        notice(held_patch('{"text":"' + "y" * 4000 + '"}')), public_url="https://mc.example.lan"
    )

    assert len(message.title) <= 80
    assert len(message.body) <= 600


def test_a_success_tells_the_answer_itself() -> None:
    patch = {**ended_patch("Succeeded", "the agent answered"), "result": {"summary": "All good."}}

    assert compose(notice(patch), public_url=None).body == "ops/evict-1 (Task ops/evict): All good."


def test_only_notifiable_transitions_make_a_notice() -> None:
    assert notice(ended_patch("Running", "step 2")) is None
    assert notice({"steps": 3}) is None
    assert notice(ended_patch("Succeeded", "done")) is not None
    held = notice(held_patch())
    assert held.key == ("u-1", "AwaitingApproval", "tc-3")


def test_the_default_route_hears_everything_but_success() -> None:
    default = route()

    assert route().on == DEFAULT_ON
    assert wanted_by(default, notice(held_patch()))
    assert wanted_by(default, notice(ended_patch("LimitExceeded")))
    assert not wanted_by(default, notice(ended_patch("Succeeded", "done")))
    assert wanted_by(route(on=frozenset({"Succeeded"})), notice(ended_patch("Succeeded", "ok")))


@pytest.mark.parametrize(
    ("reason", "heard"),
    [
        ("Failed", True),
        ("LimitExceeded", True),
        ("ProviderError", True),
        ("InvalidTask", True),
        ("Cancelled", False),
        ("ApprovalTimedOut", False),
    ],
)
def test_on_failed_covers_every_end_the_events_call_failed(reason: str, heard: bool) -> None:
    assert wanted_by(route(on=frozenset({"Failed"})), notice(ended_patch(reason))) is heard


def test_a_cluster_route_hears_only_held_destructive_calls() -> None:
    cluster = route(on=frozenset({"AwaitingApproval"}), destructive_holds_only=True)
    safe = held_patch()
    safe["pendingApproval"]["risk"] = "SAFE_MUTATE"

    assert wanted_by(cluster, notice(held_patch()))
    assert not wanted_by(cluster, notice(safe))
    assert not wanted_by(cluster, notice(ended_patch("Failed")))


def test_routes_come_from_the_tool_policy_and_every_cluster_policy() -> None:
    policy = ToolPolicySpec.model_validate(
        {"notify": {"secretRef": {"name": "mc-notify", "key": "urls"}, "on": ["Failed"]}}
    )
    cluster = ClusterToolPolicy.model_validate(
        {
            "metadata": {"name": "ceiling"},
            "spec": {
                "notify": {"secretRef": {"namespace": "sre", "name": "pager", "key": "destructive"}}
            },
        }
    )

    routes = notify_routes(policy=policy, namespace="ops", cluster=[cluster])

    assert routes == (
        NotifyRoute(
            namespace="ops", secret_name="mc-notify", secret_key="urls", on=frozenset({"Failed"})
        ),
        NotifyRoute(
            namespace="sre",
            secret_name="pager",
            secret_key="destructive",
            on=frozenset({"AwaitingApproval"}),
            destructive_holds_only=True,
        ),
    )
    assert notify_routes(policy=None, namespace="ops", cluster=[]) == ()
