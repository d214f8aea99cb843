"""``MC_MAX_CONCURRENT_RUNS``: a run beyond it shows ``Queued`` and starts when a slot frees."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg
import pytest

from tests.e2e.harness import Scene, Watch, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import wait_until
from tests.support.scripted_model import call, say
from tests.tools.kubernetes.helpers import pod

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


@pytest.fixture(scope="module")
def operator_extra_env() -> dict[str, str]:
    return {"MC_MAX_CONCURRENT_RUNS": "1"}


def test_a_run_beyond_the_limit_is_queued_until_a_slot_frees(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    scene.apply(pod("held-0"))
    holder = scripted_model(
        turns=[call("delete_k8s_pod", namespace=ns, name="held-0"), say("unreachable")]
    )
    quick = scripted_model(turns=[say("Nothing to do.")])
    scene.apply(
        task("hold", model=holder, tools=["delete_k8s_pod"]),
        task("quick", model=quick),
        taskrun("hold-1", task_name="hold"),
    )
    scene.wait_for("hold-1", jsonpath="{.status.conditions[0].reason}", value="AwaitingApproval")

    scene.apply(taskrun("quick-1", task_name="quick"))
    scene.wait_for("quick-1", jsonpath="{.status.conditions[0].reason}", value="Queued")
    queued = scene.get("taskrun", "quick-1")["status"]["conditions"][0]
    scene.kubectl("patch", "taskrun", "hold-1", "--type=merge", "-p",
                  '{"spec":{"status":"Cancelled"}}')  # fmt: skip
    scene.wait("quick-1")

    assert queued["status"] == "Unknown"
    assert "MC_MAX_CONCURRENT_RUNS" in queued["message"]
    assert scene.get("taskrun", "quick-1")["status"]["result"]["summary"] == "Nothing to do."
    uid = scene.get("taskrun", "hold-1")["metadata"]["uid"]
    with psycopg.connect(scene.database_url) as db:
        row = db.execute("SELECT reason FROM task_runs WHERE uid = %s", (uid,)).fetchone()
    assert row == ("Cancelled",)


def writes_to(watch: Watch, name: str) -> list[str]:
    """What each write to TaskRun ``name`` changed, in order, from ``kubectl get -w -o json``.

    Every write that changes an object reaches a watch as one event, so this counts the
    writes to this one run: the API server's ``apiserver_request_total`` counts every
    TaskRun in the cluster, and the namespace of the test before, deleted as this one runs,
    had its runs deleted meanwhile.
    """
    text = "\n".join(watch.stop())
    decoder = json.JSONDecoder()
    changes: list[str] = []
    previous: dict[str, Any] = {}
    at = 0
    while (at := _skip_space(text, at)) < len(text):
        seen, at = decoder.raw_decode(text, at)
        if seen.get("metadata", {}).get("name") != name:
            continue
        now = {"metadata": _without_bookkeeping(seen["metadata"]), "status": seen.get("status")}
        changes.append(
            ", ".join(key for key in ("metadata", "status") if now[key] != previous.get(key))
            or "nothing"
        )
        previous = now
    return changes


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def _without_bookkeeping(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k not in ("resourceVersion", "managedFields")}


def test_a_run_writes_to_the_api_server_at_most_steps_plus_three_times(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    model = scripted_model(turns=[call("list_k8s_pods", namespace=ns), say("No pods.")])
    scene.apply(task("look", model=model))
    scene.kubectl("wait", "--for=condition=Ready", "--timeout=60s", "task/look")
    watch = scene.watch(columns=False)
    time.sleep(1)  # kubectl lists, then watches; the first change seen must be the creation

    scene.apply(taskrun("look-1", task_name="look"))  # one write: the creation
    scene.wait("look-1")
    wait_until(
        lambda: [reason for _, reason, _ in scene.events("look-1")] == ["Started", "Succeeded"],
        timeout=60,
        what="the run's two Events",
    )
    time.sleep(2)  # a late write would show here
    changes = writes_to(watch, "look-1")
    writes = len(changes) - 1 + len(scene.events("look-1"))

    steps = scene.get("taskrun", "look-1")["status"]["steps"]
    assert steps == 2
    assert changes[0] == "metadata", f"the watch started after the creation: {changes}"
    # A status patch at the start, after each tool step and at the end; two Events. No
    # finalizer and no annotation of kopf's (both would show as a metadata change).
    assert writes <= steps + 3, changes
    assert "metadata" not in ", ".join(changes[1:]), changes


def test_a_deleted_run_goes_at_once_and_frees_its_slot(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    scene.apply(pod("kept-0"))
    holder = scripted_model(
        turns=[call("delete_k8s_pod", namespace=ns, name="kept-0"), say("unreachable")]
    )
    quick = scripted_model(turns=[say("Nothing to do.")])
    scene.apply(
        task("hold", model=holder, tools=["delete_k8s_pod"]),
        task("quick", model=quick),
        taskrun("hold-2", task_name="hold"),
    )
    scene.wait_for("hold-2", jsonpath="{.status.conditions[0].reason}", value="AwaitingApproval")
    active = scene.get("taskrun", "hold-2")["metadata"]
    scene.apply(taskrun("quick-2", task_name="quick"))
    scene.wait_for("quick-2", jsonpath="{.status.conditions[0].reason}", value="Queued")

    # Nothing holds the object: kubectl returns once it is gone.
    scene.kubectl("delete", "taskrun", "hold-2", "--timeout=30s")
    scene.wait("quick-2")

    assert "finalizers" not in active
    assert "hold-2" not in scene.kubectl("get", "taskruns", "-o", "name")
    assert scene.get("taskrun", "quick-2")["status"]["result"]["summary"] == "Nothing to do."
    assert "kept-0" in scene.kubectl("get", "pods", "-o", "name")
