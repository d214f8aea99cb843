"""The ``Succeeded`` condition, transition Events and the status patch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mission_control.resources.taskrun import TaskRunStatus
from mission_control.runs.status import (
    REASON_STATUS,
    TRUNCATED,
    Pending,
    RunReason,
    StepCounts,
    build_status_patch,
    succeeded_condition,
    transition_event,
    truncate_utf8,
)

T0 = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(seconds=42)
COUNTS = StepCounts(
    steps=3, tool_calls=4, prompt_tokens=5120, completion_tokens=410, cost_usd=Decimal("0.0012")
)


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        *[(r, "Unknown") for r in ("Pending", "Queued", "Started", "Running",
                                   "AwaitingApproval", "WaitingForJournal")],
        ("Succeeded", "True"),
        *[(r, "False") for r in ("Failed", "Cancelled", "TimedOut", "LimitExceeded",
                                 "ApprovalTimedOut", "ProviderError", "InvalidTask",
                                 "InvalidParams", "Interrupted")],
    ],
)  # fmt: skip
def test_each_reason_has_its_condition_status(reason: RunReason, status: str) -> None:
    condition = succeeded_condition(reason, message="m", generation=2, now=T0, previous=None)

    assert (condition.type, condition.status, condition.reason) == ("Succeeded", status, reason)
    assert condition.observed_generation == 2


def test_every_reason_of_the_contract_is_mapped() -> None:
    assert set(REASON_STATUS) == set(get_args(RunReason))


@pytest.mark.parametrize(
    ("before", "after", "moves"),
    [
        ("Running", "Running", False),
        ("Running", "AwaitingApproval", True),
        ("AwaitingApproval", "Running", True),
        ("Running", "Succeeded", True),
    ],
)
def test_last_transition_time_moves_only_with_status_or_reason(
    before: RunReason, after: RunReason, moves: bool
) -> None:
    first = succeeded_condition(before, message="step 1", generation=1, now=T0, previous=None)
    second = succeeded_condition(after, message="step 2", generation=2, now=T1, previous=first)

    assert second.last_transition_time == (T1 if moves else T0)
    assert (second.message, second.observed_generation) == ("step 2", 2)


@pytest.mark.parametrize(
    ("before", "after", "event"),
    [
        (None, "Started", ("Normal", "Started")),
        ("Pending", "Running", ("Normal", "Started")),
        ("Queued", "Running", ("Normal", "Started")),
        ("Started", "Running", None),
        ("Running", "Running", None),
        ("AwaitingApproval", "Running", None),
        ("WaitingForJournal", "Running", None),
        ("Running", "WaitingForJournal", None),
        ("Running", "Queued", None),
        ("Running", "AwaitingApproval", ("Normal", "AwaitingApproval")),
        ("Running", "Succeeded", ("Normal", "Succeeded")),
        ("Running", "Cancelled", ("Normal", "Cancelled")),
        ("Running", "TimedOut", ("Warning", "TimedOut")),
        ("AwaitingApproval", "ApprovalTimedOut", ("Warning", "TimedOut")),
        ("Running", "Failed", ("Warning", "Failed")),
        ("Running", "LimitExceeded", ("Warning", "Failed")),
        ("Running", "ProviderError", ("Warning", "Failed")),
        (None, "InvalidTask", ("Warning", "Failed")),
        (None, "InvalidParams", ("Warning", "Failed")),
        ("Running", "Interrupted", ("Warning", "Failed")),
    ],
)
def test_events_are_posted_on_transitions_only(
    before: RunReason | None, after: RunReason, event: tuple[str, str] | None
) -> None:
    assert transition_event(before, after) == event


def pending(arguments_json: str) -> Pending:
    return Pending(
        tool_call_id="tc-3",
        tool="delete_k8s_pod",
        risk="DESTRUCTIVE",
        arguments_json=arguments_json,
        args_digest="sha256:" + "a" * 64,
        requested_at=T0,
        expires_at=T0 + timedelta(hours=1),
    )


def test_the_status_patch_carries_counters_usage_and_the_held_call() -> None:
    condition = succeeded_condition(
        "AwaitingApproval", message="delete_k8s_pod needs approval", generation=2, now=T0,
        previous=None,
    )  # fmt: skip

    patch = build_status_patch(
        condition=condition, counts=COUNTS, pending=pending('{"name":"web-0"}')
    )

    assert patch["steps"] == 3
    assert patch["toolCalls"] == 4
    assert patch["observedGeneration"] == 2
    assert patch["usage"] == {
        "promptTokens": 5120,
        "completionTokens": 410,
        "totalTokens": 5530,
        "costUSD": "0.0012",
    }
    assert patch["pendingApproval"]["arguments"] == '{"name":"web-0"}'
    assert patch["pendingApproval"]["requestedAt"] == "2026-11-30T12:00:00Z"
    assert patch["conditions"][0]["lastTransitionTime"] == "2026-11-30T12:00:00Z"
    # The API server's schema (our model of it) accepts the patch as a status.
    TaskRunStatus.model_validate(patch)


def test_a_settled_call_is_cleared_and_the_answer_recorded() -> None:
    condition = succeeded_condition("Succeeded", message="done", generation=1, now=T0,
                                    previous=None)  # fmt: skip

    patch = build_status_patch(
        condition=condition, counts=COUNTS, pending=None, summary="all good", completion_time=T1
    )

    assert patch["pendingApproval"] is None
    assert patch["result"] == {"summary": "all good"}
    assert patch["completionTime"] == "2026-11-30T12:00:42Z"


def test_long_arguments_and_summaries_are_cut_by_utf8_bytes_with_a_marker() -> None:
    condition = succeeded_condition("Succeeded", message="", generation=1, now=T0, previous=None)

    patch = build_status_patch(
        condition=condition,
        counts=COUNTS,
        pending=pending('{"x":"' + "é" * 3000 + '"}'),
        summary="ü" * 10_000,
    )

    arguments = patch["pendingApproval"]["arguments"]
    summary = patch["result"]["summary"]
    assert arguments.endswith(TRUNCATED)
    assert len(arguments.encode()) <= 2048
    assert summary.endswith(TRUNCATED)
    assert 8192 - 1 <= len(summary.encode()) <= 8192
    TaskRunStatus.model_validate({"pendingApproval": patch["pendingApproval"]})


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        build_status_patch(
            condition=succeeded_condition("Running", message="", generation=1, now=T0,
                                          previous=None),
            counts=COUNTS,
            pending=None,
            completion_time=datetime(2026, 1, 1),
        )  # fmt: skip


@given(st.text(max_size=3000), st.integers(min_value=len(TRUNCATED.encode()), max_value=2048))
def test_truncation_never_exceeds_the_limit_and_keeps_a_prefix(text: str, limit: int) -> None:
    cut = truncate_utf8(text, max_bytes=limit)

    assert len(cut.encode()) <= limit
    assert cut == text or (cut.endswith(TRUNCATED) and text.startswith(cut[: -len(TRUNCATED)]))
