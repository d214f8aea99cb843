"""The operator killed inside the windows that matter, PostgreSQL stopped, the API server gone.

One operator for the module, reaching the API server through a proxy
(:mod:`tests.support.apiproxy`) that can hold a mutating request or go down, and PostgreSQL
through a server of the module's own that the tests stop and start. The kill windows are made
by holding the Deployment PATCH of ``restart_k8s_deployment`` at the proxy: the intent is
committed before the operator sends it, so

- killed while the PATCH is held and never sent: intent committed, call not made;
- killed once the API server answered the PATCH the operator never saw: call made, outcome
  not recorded.

Either way the restarted operator resumes the run from its journal, marks the call
``unknown`` (audited, told to the model) and does not make it again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.controlplane.launcher import Cluster
from tests.e2e.harness import (
    AGENT_SERVICE_ACCOUNT,
    OperatorProcess,
    Scene,
    hold_a_delete,
    task,
    taskrun,
)
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.apiproxy import ApiServerProxy
from tests.support.postgres import LocalPostgres
from tests.support.scripted_model import call, say
from tests.tools.kubernetes.helpers import deployment

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

#: How long PostgreSQL stays stopped in the outage test.
DATABASE_DOWN_SECONDS = 30
#: How long the API server stays unreachable in the outage test.
API_DOWN_SECONDS = 20


@pytest.fixture(scope="module")
def database_server() -> Iterator[LocalPostgres]:
    """A PostgreSQL of the module's own: the tests stop it, which the shared one must not be."""
    with LocalPostgres() as server:
        yield server


@pytest.fixture(scope="module")
def postgres_url(database_server: LocalPostgres) -> str:
    return database_server.url


@pytest.fixture(scope="module")
def api_proxy(crds: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProxy]:
    with ApiServerProxy(crds, workdir=tmp_path_factory.mktemp("apiproxy")) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def operator_extra_env(api_proxy: ApiServerProxy) -> dict[str, str]:
    return {"KUBECONFIG": str(api_proxy.kubeconfig)}


def _restarting_run(scene: Scene, scripted_model: ScriptedModelFactory) -> str:
    """A run that restarts Deployment ``app`` (allowed without approval); its PATCH path."""
    ns = scene.namespace
    scene.kubectl(
        "create", "rolebinding", "agent-edit", "--clusterrole=edit",
        f"--serviceaccount={ns}:{AGENT_SERVICE_ACCOUNT}",
    )  # fmt: skip
    scene.apply(deployment("app", replicas=0))
    model = scripted_model(
        turns=[call("restart_k8s_deployment", namespace=ns, name="app"), say("Restarted app.")]
    )
    scene.apply(task("restart", model=model, tools=["restart_k8s_deployment"]))
    return f"/apis/apps/v1/namespaces/{ns}/deployments/app"


def _journal(scene: Scene, run: str) -> tuple[list[int], list[str], list[str]]:
    """The run's journal seqs, its tool call statuses and its audit actions."""
    uid = scene.get("taskrun", run)["metadata"]["uid"]
    with psycopg.connect(scene.database_url) as db:
        seqs = [
            seq
            for (seq,) in db.execute(
                "SELECT seq FROM task_events WHERE run_uid = %s ORDER BY seq", (uid,)
            )
        ]
        statuses = [
            status
            for (status,) in db.execute(
                "SELECT status FROM tool_call_records WHERE run_uid = %s", (uid,)
            )
        ]
        actions = [
            action
            for (action,) in db.execute(
                "SELECT action FROM audit_entries WHERE run_uid = %s ORDER BY id", (uid,)
            )
        ]
    return seqs, statuses, actions


def _restarts(scene: Scene) -> int:
    """Restarts of Deployment ``app`` that reached the API server (each bumps generation)."""
    return int(scene.get("deployment", "app")["metadata"]["generation"]) - 1


def _assert_resumed_with_unknown_outcome(scene: Scene, run: str) -> None:
    scene.wait(run, timeout=180)
    status = scene.get("taskrun", run)["status"]
    assert status["conditions"][0]["reason"] == "Succeeded"
    seqs, statuses, actions = _journal(scene, run)
    assert seqs == list(range(1, len(seqs) + 1)), seqs  # no gap, no duplicate
    assert statuses == ["unknown"]
    assert "tool.outcome_unknown" in actions
    told = scene.tool_results(run)
    assert len(told) == 1, told
    assert "outcome is unknown" in told[0], told


@pytest.mark.parametrize(
    "window", ["after the intent, before the call", "after the call, before its outcome"]
)
def test_a_kill_inside_a_mutating_call_never_repeats_it(
    scene: Scene,
    operator_process: OperatorProcess,
    api_proxy: ApiServerProxy,
    scripted_model: ScriptedModelFactory,
    window: str,
) -> None:
    path = _restarting_run(scene, scripted_model)
    held = api_proxy.hold("PATCH", path)
    scene.apply(taskrun("run-1", task_name="restart"))
    assert held.arrived.wait(timeout=120), "the operator never sent the restart"
    # The intent is committed before the request is sent: the write-ahead record.
    assert _journal(scene, "run-1")[1] == ["intent"]
    if window.startswith("after the call"):
        held.send_upstream()
        assert held.answered.wait(timeout=30)
        assert held.status == 200
    operator_process.kill()
    held.drop()
    operator_process.start()

    _assert_resumed_with_unknown_outcome(scene, "run-1")
    made = 1 if window.startswith("after the call") else 0
    assert api_proxy.count("PATCH", path) == made  # counted where it reaches the API server
    assert _restarts(scene) == made


def _held_for_approval(scene: Scene, scripted_model: ScriptedModelFactory) -> dict[str, str]:
    """A run waiting for approval to delete pod ``stale-0``; the approval that releases it."""
    tool_call_id = hold_a_delete(scene, scripted_model)
    me = scene.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    return {"toolCallId": tool_call_id, "decision": "Approve", "by": me}


def _approve(scene: Scene, approval: dict[str, str]) -> None:
    scene.kubectl(
        "patch", "taskrun", "evict-1", "--type=merge", "-p",
        json.dumps({"spec": {"approvals": [approval]}}),
    )  # fmt: skip


def _assert_deleted_once(scene: Scene) -> None:
    assert "stale-0" not in scene.kubectl("get", "pods", "-o", "name")
    assert scene.get("taskrun", "evict-1")["status"]["result"]["summary"] == "Deleted stale-0."
    seqs, statuses, _ = _journal(scene, "evict-1")
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    assert statuses == ["completed"]


def test_a_run_waits_for_a_stopped_database_and_finishes(
    scene: Scene, database_server: LocalPostgres, scripted_model: ScriptedModelFactory
) -> None:
    approval = _held_for_approval(scene, scripted_model)
    watch = scene.watch()
    stopped = time.monotonic()
    database_server.stop()
    try:
        # The approval wakes the run, whose next step must be written before it acts.
        _approve(scene, approval)
        watch.wait_for_reason("evict-1", "WaitingForJournal", timeout=120)
        message = scene.get("taskrun", "evict-1")["status"]["conditions"][0]["message"]
        assert "waiting for PostgreSQL" in message, message
        assert "stale-0" in scene.kubectl("get", "pods", "-o", "name")  # nothing unrecorded
        time.sleep(max(0.0, DATABASE_DOWN_SECONDS - (time.monotonic() - stopped)))
    finally:
        database_server.start()
    scene.wait("evict-1", timeout=180)
    _assert_deleted_once(scene)


def test_a_run_rides_out_an_api_server_unreachable_mid_step(
    scene: Scene, api_proxy: ApiServerProxy, scripted_model: ScriptedModelFactory
) -> None:
    approval = _held_for_approval(scene, scripted_model)
    # The approval wakes the run; the first status write it makes is where the API server goes.
    status = f"/apis/missioncontrol.dev/v1alpha1/namespaces/{scene.namespace}/taskruns/evict-1"
    held = api_proxy.hold("PATCH", status + "/status")
    _approve(scene, approval)
    assert held.arrived.wait(timeout=120), "the run did not write its status after the approval"
    api_proxy.down()  # cuts the held write too: the operator sees its connection lost
    try:
        time.sleep(API_DOWN_SECONDS)
        assert "stale-0" in scene.kubectl("get", "pods", "-o", "name")
    finally:
        held.drop()
        api_proxy.up()
    scene.wait("evict-1", timeout=180)
    _assert_deleted_once(scene)
