"""``ttlSecondsAfterFinished``: a finished TaskRun is deleted, its journal kept; one that Argo CD
tracks is kept, and an Event says why."""

from __future__ import annotations

import psycopg
import pytest

from tests.e2e.harness import Scene, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import wait_until
from tests.support.scripted_model import say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


def _journal_rows(scene: Scene, uid: str) -> int:
    with psycopg.connect(scene.database_url) as db:
        row = db.execute("SELECT count(*) FROM task_events WHERE run_uid = %s", (uid,)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_finished_run_is_deleted_after_its_ttl_and_its_journal_stays(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    model = scripted_model(turns=[say("All good.")])
    scene.apply(task("quick", model=model), taskrun("brief-1", task_name="quick"))
    scene.wait("brief-1")
    uid = scene.get("taskrun", "brief-1")["metadata"]["uid"]
    # Set after it finished: the operator's watch sees the TTL on a run that is already done.
    scene.kubectl("patch", "taskrun", "brief-1", "--type=merge", "-p",
                  '{"spec":{"ttlSecondsAfterFinished":1}}')  # fmt: skip

    scene.kubectl("wait", "--for=delete", "--timeout=90s", "taskrun/brief-1")

    assert "brief-1" not in scene.kubectl("get", "taskruns", "-o", "name")
    assert _journal_rows(scene, uid) > 0
    with psycopg.connect(scene.database_url) as db:
        row = db.execute("SELECT reason FROM task_runs WHERE uid = %s", (uid,)).fetchone()
    assert row == ("Succeeded",)


@pytest.mark.parametrize(
    "mark",
    [
        {"annotations": {"argocd.argoproj.io/tracking-id": "tasks:missioncontrol.dev/TaskRun:x"}},
        {"labels": {"app.kubernetes.io/instance": "tasks"}},
    ],
    ids=["annotation", "label"],
)
def test_a_run_tracked_by_argocd_is_never_deleted_by_its_ttl(
    scene: Scene, scripted_model: ScriptedModelFactory, mark: dict[str, dict[str, str]]
) -> None:
    model = scripted_model(turns=[say("All good.")])
    other = scripted_model(turns=[say("All good too.")])
    tracked = taskrun("tracked-1", task_name="quick", ttlSecondsAfterFinished=0)
    tracked["metadata"].update(mark)
    untracked = taskrun("untracked-1", task_name="other", ttlSecondsAfterFinished=0)
    scene.apply(task("quick", model=model), task("other", model=other), tracked)
    scene.wait("tracked-1")
    wait_until(
        lambda: any(reason == "TTLIgnored" for _, reason, _ in scene.events("tracked-1")),
        timeout=60,
        what="the TTLIgnored Event",
    )
    # A run without the mark, finished after the tracked one, is deleted: the TTL was due.
    scene.apply(untracked)
    scene.kubectl("wait", "--for=delete", "--timeout=90s", "taskrun/untracked-1")

    assert scene.get("taskrun", "tracked-1")["metadata"]["name"] == "tracked-1"
    [message] = [m for _, reason, m in scene.events("tracked-1") if reason == "TTLIgnored"]
    assert "Argo CD" in message
