"""An operator restart while a run waits for an approval: the run resumes and completes once."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.e2e.harness import OperatorProcess, Scene, hold_a_delete
from tests.fixtures.ollama import ScriptedModelFactory

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


def test_a_held_run_survives_an_operator_restart(
    scene: Scene, operator_process: OperatorProcess, scripted_model: ScriptedModelFactory
) -> None:
    tool_call_id = hold_a_delete(scene, scripted_model)

    operator_process.stop()
    assert "finalizers" not in scene.get("taskrun", "evict-1")["metadata"]  # none is needed
    operator_process.start()
    me = scene.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    approval = {"toolCallId": tool_call_id, "decision": "Approve", "by": me}
    scene.kubectl(
        "patch", "taskrun", "evict-1", "--type=merge", "-p",
        json.dumps({"spec": {"approvals": [approval]}}),
    )  # fmt: skip
    scene.wait("evict-1")

    assert "stale-0" not in scene.kubectl("get", "pods", "-o", "name")
    status = scene.get("taskrun", "evict-1")["status"]
    assert status["result"]["summary"] == "Deleted stale-0."
    uid = scene.get("taskrun", "evict-1")["metadata"]["uid"]
    with psycopg.connect(scene.database_url) as db:
        rows = db.execute(
            "SELECT tool, status FROM tool_call_records WHERE run_uid = %s", (uid,)
        ).fetchall()
        requests = db.execute(
            "SELECT count(*) FROM llm_requests WHERE run_uid = %s", (uid,)
        ).fetchone()
    assert rows == [("delete_k8s_pod", "completed")]  # executed once
    assert requests == (2,)  # the first request was not sent again
