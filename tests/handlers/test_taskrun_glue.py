"""The TaskRun glue at its own seams: the live view, the daemon's filter, the reporter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.connectors.kubernetes.custom import MissionControlObjects, ObjectRef
from mission_control.handlers.ports import LiveRun, StatusReporter
from mission_control.handlers.taskruns import is_active
from tests.controlplane.launcher import Cluster


def body(*, generation: int = 1, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "r", "generation": generation},
        "spec": {"taskRef": {"name": "t"}, **spec},
    }


def replace(live_body: dict[str, Any], new: dict[str, Any]) -> None:
    """What kopf does to a daemon's body on each event: same object, new content."""
    live_body.clear()
    live_body.update(new)


async def test_a_spec_change_wakes_the_run_and_a_status_change_does_not() -> None:
    live_body = body()
    live = LiveRun(live_body)
    waiting = asyncio.create_task(live.wait_for_change())

    replace(live_body, {**body(), "status": {"steps": 3}})  # our own status write
    live.observe()
    await asyncio.sleep(0)
    woken_by_status = waiting.done()
    approval = {"toolCallId": "tc-1", "decision": "Approve", "by": "alice"}
    replace(live_body, body(generation=2, approvals=[approval]))
    live.observe()
    await asyncio.wait_for(waiting, timeout=5)

    assert woken_by_status is False
    assert [(a.tool_call_id, a.decision, a.by) for a in live.approvals()] == [
        ("tc-1", "Approve", "alice")
    ]


async def test_a_change_before_the_wait_is_not_missed() -> None:
    live_body = body()
    live = LiveRun(live_body)

    replace(live_body, body(generation=2, status="Cancelled"))
    live.observe()

    await asyncio.wait_for(live.wait_for_change(), timeout=5)
    assert live.cancelled() is True


@pytest.mark.parametrize(
    ("spec", "status", "active"),
    [
        ({}, {}, True),
        ({"status": "Pending"}, {}, False),
        ({"status": "Cancelled"}, {}, True),  # the daemon ends it as Cancelled
        ({}, {"conditions": [{"type": "Succeeded", "status": "Unknown"}]}, True),
        ({}, {"conditions": [{"type": "Succeeded", "status": "True"}]}, False),
        ({}, {"conditions": [{"type": "Succeeded", "status": "False"}]}, False),
    ],
)
def test_the_daemon_runs_only_for_active_runs(
    spec: dict[str, Any], status: dict[str, Any], active: bool
) -> None:
    assert is_active(spec=spec, status=status) is active


@pytest.fixture
async def objects(crds: Cluster) -> AsyncIterator[MissionControlObjects]:
    connector = KubernetesConnector.from_kubeconfig(crds.kubeconfig)
    yield MissionControlObjects(connector, instance="test")
    await connector.aclose()


@pytest.mark.controlplane
async def test_the_reporter_marks_status_with_the_generation_last_seen(
    objects: MissionControlObjects, crds: Cluster, k8s_namespace: str
) -> None:
    run = {
        "apiVersion": "missioncontrol.dev/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": "r"},
        "spec": {"taskRef": {"name": "t"}},
    }
    crds.kubectl("apply", "-n", k8s_namespace, "-f", "-", input=json.dumps(run))
    crds.kubectl(
        "patch", "taskrun", "r", "-n", k8s_namespace, "--type=merge",
        "-p", '{"spec":{"status":"Cancelled"}}',
    )  # fmt: skip
    live = json.loads(crds.kubectl("get", "taskrun", "r", "-n", k8s_namespace, "-o", "json").stdout)
    about = ObjectRef(
        kind="TaskRun", namespace=k8s_namespace, name="r", uid=live["metadata"]["uid"]
    )
    reporter = StatusReporter(objects, about=about, live=live)
    condition = {"type": "Succeeded", "status": "Unknown", "reason": "Running",
                 "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}  # fmt: skip

    await reporter.patch_status({"observedGeneration": 1, "conditions": [condition], "steps": 1})
    await reporter.post_event(reason="Started", message="started")

    shown = json.loads(
        crds.kubectl("get", "taskrun", "r", "-n", k8s_namespace, "-o", "json").stdout
    )
    assert shown["status"]["observedGeneration"] == 2
    assert shown["status"]["conditions"][0]["observedGeneration"] == 2
    assert shown["status"]["steps"] == 1
    assert reporter.writes == 2
    crds.kubectl(
        "wait", "--for=jsonpath={.status.conditions[0].reason}=Running", "--timeout=5s",
        "taskrun/r", "-n", k8s_namespace,
    )  # fmt: skip
