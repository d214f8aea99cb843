"""Parsing the API server's JSON into typed values: defaults, states and event timestamps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from mission_control.connectors.kubernetes.wire import (
    continue_token,
    parse_events,
    parse_nodes,
    parse_pod,
    parse_workloads,
)


def page(*items: dict[str, Any], token: str = "") -> bytes:
    return json.dumps({"metadata": {"continue": token}, "items": list(items)}).encode()


def pod(**status: Any) -> bytes:
    return json.dumps(
        {
            "metadata": {"name": "web-0", "namespace": "media", "uid": "u-1"},
            "spec": {"containers": [{"name": "app", "image": "web:1"}]},
            "status": status,
        }
    ).encode()


def test_a_pod_without_status_is_its_phase_with_nothing_ready() -> None:
    parsed = parse_pod(pod(phase="Pending"))
    assert (parsed.status, parsed.ready, parsed.total, parsed.restarts) == ("Pending", 0, 1, 0)
    assert parsed.owner is None


def test_a_stuck_init_container_shows_as_init_reason() -> None:
    parsed = parse_pod(
        pod(
            phase="Pending",
            initContainerStatuses=[
                {"name": "migrate", "restartCount": 3,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ],
            containerStatuses=[
                {"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}
            ],
        )
    )  # fmt: skip
    assert parsed.status == "Init:CrashLoopBackOff"
    assert parsed.restarts == 0  # init container restarts are not the pod's restarts column


def test_an_evicted_pod_shows_the_pod_reason() -> None:
    parsed = parse_pod(pod(phase="Failed", reason="Evicted", message="low on memory"))
    assert (parsed.status, parsed.message) == ("Evicted", "low on memory")


def test_a_terminated_container_keeps_its_exit_code() -> None:
    parsed = parse_pod(
        pod(
            phase="Failed",
            containerStatuses=[
                {"name": "app", "restartCount": 2,
                 "state": {"terminated": {"reason": "Error", "exitCode": 2}}}
            ],
        )
    )  # fmt: skip
    (container,) = parsed.containers
    assert (container.state, container.reason, container.exit_code) == ("terminated", "Error", 2)
    assert parsed.status == "Error"


def test_events_from_either_api_use_the_latest_timestamp_and_count() -> None:
    core = {
        "metadata": {"name": "a", "namespace": "media"},
        "involvedObject": {"kind": "Pod", "name": "web-0"},
        "reason": "BackOff",
        "type": "Warning",
        "count": 4,
        "lastTimestamp": "2025-03-01T10:00:00Z",
    }
    series = {
        "metadata": {"name": "b", "namespace": "media"},
        "involvedObject": {"kind": "Pod", "name": "web-0"},
        "reason": "Unhealthy",
        "eventTime": "2025-03-01T09:00:00.123456Z",
        "series": {"count": 9, "lastObservedTime": "2025-03-01T11:00:00.000001Z"},
        "reportingComponent": "kubelet",
    }
    first, second = parse_events([page(core, series)])
    assert (first.count, first.last_seen) == (4, datetime(2025, 3, 1, 10, tzinfo=UTC))
    assert second.count == 9
    assert second.last_seen == datetime(2025, 3, 1, 11, 0, 0, 1, tzinfo=UTC)
    assert second.source == "kubelet"


def test_a_node_without_internal_ip_or_ready_condition() -> None:
    (node,) = parse_nodes(
        [page({"metadata": {"name": "n1"}, "status": {"conditions": [
            {"type": "Ready", "status": "Unknown"}]}})]
    )  # fmt: skip
    assert (node.internal_ip, node.ready, node.cpu) == (None, False, "")


def test_daemonsets_count_scheduled_nodes() -> None:
    raw = {
        "metadata": {"name": "agent", "namespace": "kube-system"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "agent:2"}]}}},
        "status": {"desiredNumberScheduled": 3, "numberReady": 2},
    }
    (daemonset,) = parse_workloads("DaemonSet", [page(raw)])
    assert (daemonset.desired, daemonset.ready, daemonset.images) == (3, 2, ("agent:2",))


def test_continue_tokens_are_read_from_list_metadata() -> None:
    assert continue_token(page(token="abc")) == "abc"
    assert continue_token(page()) == ""
