"""``MC_MAX_CONCURRENT_RUNS``: a run beyond it shows ``Queued`` and starts when a slot frees."""

from __future__ import annotations

import psycopg
import pytest

from tests.e2e.harness import Scene, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
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
