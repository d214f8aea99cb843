"""Queueing with ``MC_MAX_CONCURRENT_RUNS=2``: never more than two active runs (sampled all
along), the queued ones told their place in line, one cancelled while queued leaving at once,
the others starting in creation order and succeeding."""

from __future__ import annotations

import json
import threading

import psycopg
import pytest

from tests.e2e.harness import Scene, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import wait_until
from tests.support.scripted_model import call, say
from tests.tools.kubernetes.helpers import pod

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

_NOT_ACTIVE = {"Queued", "Pending", ""}


@pytest.fixture(scope="module")
def operator_extra_env() -> dict[str, str]:
    return {"MC_MAX_CONCURRENT_RUNS": "2"}


class _Sampler:
    """``kubectl get taskruns -o json`` over and over: the most runs seen active at once."""

    def __init__(self, scene: Scene) -> None:
        self._scene = scene
        self._stop = threading.Event()
        self.most_active = 0
        self.samples = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            listed = json.loads(self._scene.kubectl("get", "taskruns", "-o", "json"))
            active = 0
            for item in listed["items"]:
                conditions = (item.get("status") or {}).get("conditions") or [{}]
                if conditions[0].get("status") == "Unknown" and (
                    conditions[0].get("reason", "") not in _NOT_ACTIVE
                ):
                    active += 1
            self.most_active = max(self.most_active, active)
            self.samples += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _message(scene: Scene, name: str) -> str:
    return str(scene.get("taskrun", name)["status"]["conditions"][0]["message"])


def _reason(scene: Scene, name: str) -> str:
    return str(scene.get("taskrun", name)["status"]["conditions"][0]["reason"])


def test_six_runs_two_at_a_time_in_creation_order(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    scene.apply(pod("held-0"))
    holders = [
        scripted_model(turns=[call("delete_k8s_pod", namespace=ns, name="held-0"), say("no")])
        for _ in range(2)
    ]
    quick = [scripted_model(turns=[say(f"Done {i}.")]) for i in range(4)]
    scene.apply(
        *(task(f"hold-{i}", model=m, tools=["delete_k8s_pod"]) for i, m in enumerate(holders)),
        *(task(f"quick-{i}", model=m) for i, m in enumerate(quick)),
    )
    sampler = _Sampler(scene)
    try:
        for i in range(2):
            scene.apply(taskrun(f"a-hold-{i}", task_name=f"hold-{i}"))
            scene.wait_for(
                f"a-hold-{i}", jsonpath="{.status.conditions[0].reason}", value="AwaitingApproval"
            )
        for i in range(4):  # names sort as they are created
            scene.apply(taskrun(f"b-quick-{i}", task_name=f"quick-{i}"))
            scene.wait_for(
                f"b-quick-{i}", jsonpath="{.status.conditions[0].reason}", value="Queued"
            )
        last_queued = scene.get("taskrun", "b-quick-3")["status"]["conditions"][0]["message"]

        scene.kubectl("patch", "taskrun", "b-quick-1", "--type=merge", "-p",
                      '{"spec":{"status":"Cancelled","statusMessage":"not needed"}}')  # fmt: skip
        scene.wait("b-quick-1", condition="Succeeded=false", timeout=30)
        # Moves in line are shown coalesced, a moment later.
        wait_until(
            lambda: "number 3 in the queue" in _message(scene, "b-quick-3"),
            timeout=60,
            what="b-quick-3 shown one place further up",
        )
        moved_up = _message(scene, "b-quick-3")

        # One holder goes: the two slots are now shared by one holder and the queue, one by one.
        scene.kubectl("patch", "taskrun", "a-hold-0", "--type=merge", "-p",
                      '{"spec":{"status":"Cancelled"}}')  # fmt: skip
        for name in ("b-quick-0", "b-quick-2", "b-quick-3"):
            scene.wait(name, timeout=120)
        scene.kubectl("patch", "taskrun", "a-hold-1", "--type=merge", "-p",
                      '{"spec":{"status":"Cancelled"}}')  # fmt: skip
        scene.wait("a-hold-1", condition="Succeeded=false", timeout=60)
    finally:
        sampler.stop()

    assert sampler.samples > 0
    assert sampler.most_active == 2  # both slots were used, never more
    assert "number 4 in the queue" in last_queued
    assert "number 3 in the queue" in moved_up
    cancelled = scene.get("taskrun", "b-quick-1")["status"]["conditions"][0]
    assert cancelled["reason"] == "Cancelled"
    assert "cancelled while queued" in cancelled["message"]
    assert "by kubectl-patch" in cancelled["message"]
    assert 'saying "not needed"' in cancelled["message"]
    assert [_reason(scene, f"b-quick-{i}") for i in (0, 2, 3)] == ["Succeeded"] * 3
    uids = [scene.get("taskrun", f"b-quick-{i}")["metadata"]["uid"] for i in (0, 2, 3)]
    with psycopg.connect(scene.database_url) as db:
        started = [
            db.execute(
                "SELECT created_at FROM task_events WHERE run_uid = %s AND type = 'run.started'",
                (uid,),
            ).fetchone()
            for uid in uids
        ]
        never_started = db.execute(
            "SELECT count(*) FROM task_events WHERE run_uid = %s",
            (scene.get("taskrun", "b-quick-1")["metadata"]["uid"],),
        ).fetchone()
    assert None not in started
    assert started == sorted(started)  # in creation order
    assert never_started == (0,)
