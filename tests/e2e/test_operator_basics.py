"""The operator's behaviour around runs: Ready conditions, Pending runs, its footprint, its logs."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from tests.e2e.harness import Scene, task, taskrun
from tests.support.processes import wait_until

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


def ready(scene: Scene, kind: str, name: str) -> dict[str, object]:
    (condition,) = scene.get(kind, name)["status"]["conditions"]
    return dict(condition)


def test_a_toolpolicy_created_later_makes_its_task_ready(scene: Scene) -> None:
    scene.apply(task("careful", policyRef={"name": "strict"}))
    scene.kubectl("wait", "--for=condition=Ready=false", "--timeout=30s", "task/careful")
    waiting = ready(scene, "task", "careful")

    scene.apply(
        {
            "apiVersion": "missioncontrol.dev/v1alpha1",
            "kind": "ToolPolicy",
            "metadata": {"name": "strict"},
            "spec": {"defaults": {"safeMutate": "Deny", "destructive": "Deny"}},
        }
    )
    scene.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "task/careful")

    assert waiting["reason"] == "PolicyNotFound"
    assert "ToolPolicy strict" in str(waiting["message"])
    assert ready(scene, "task", "careful")["reason"] == "Valid"
    assert ready(scene, "toolpolicy", "strict")["reason"] == "Valid"
    assert scene.kubectl("get", "task", "careful").split()[-2:-1] == ["True"]  # READY column


def test_a_task_edit_is_judged_again_for_its_new_generation(scene: Scene) -> None:
    scene.apply(task("edited"))
    scene.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "task/edited")

    scene.apply(task("edited", tools=["list_k8s_pods", "nonexistent_tool"]))
    scene.kubectl("wait", "--for=condition=Ready=false", "--timeout=30s", "task/edited")

    shown = scene.get("task", "edited")["status"]
    assert shown["observedGeneration"] == 2
    assert shown["conditions"][0]["observedGeneration"] == 2
    assert shown["conditions"][0]["reason"] == "UnknownTool"


def test_a_policy_whose_rules_match_no_tool_is_not_ready(scene: Scene) -> None:
    scene.apply(
        {
            "apiVersion": "missioncontrol.dev/v1alpha1",
            "kind": "ToolPolicy",
            "metadata": {"name": "typo"},
            "spec": {"rules": [{"tools": ["delet_*"], "action": "Deny"}]},
        }
    )
    scene.kubectl("wait", "--for=condition=Ready=false", "--timeout=30s", "toolpolicy/typo")

    condition = ready(scene, "toolpolicy", "typo")
    assert condition["reason"] == "UnknownTool"
    assert "delet_*" in str(condition["message"])


def test_tasks_are_mirrored_into_the_store_with_their_verdict(scene: Scene) -> None:
    scene.apply(task("mirrored", tools=["list_k8s_pods", "get_k8s_events"]))
    scene.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "task/mirrored")
    uid = scene.get("task", "mirrored")["metadata"]["uid"]

    with psycopg.connect(scene.database_url) as db:
        row = db.execute(
            "SELECT namespace, name, generation, spec->'tools', ready_reason FROM tasks "
            "WHERE uid = %s",
            (uid,),
        ).fetchone()

    assert row == (scene.namespace, "mirrored", 1, ["list_k8s_pods", "get_k8s_events"], "Valid")


def test_the_tool_catalogue_is_in_the_store(scene: Scene) -> None:
    with psycopg.connect(scene.database_url) as db:
        rows = db.execute("SELECT name, risk FROM tool_definitions ORDER BY name").fetchall()

    assert ("delete_k8s_pod", "DESTRUCTIVE") in rows
    assert ("restart_k8s_deployment", "SAFE_MUTATE") in rows
    assert len(rows) == 16


def test_a_pending_run_waits_and_shows_it(scene: Scene) -> None:
    scene.apply(taskrun("later", task_name="not-yet", status="Pending"))
    scene.wait_for("later", jsonpath="{.status.conditions[0].reason}", value="Pending")

    shown = scene.get("taskrun", "later")

    assert shown["status"]["conditions"][0]["status"] == "Unknown"
    assert "set it to" in shown["status"]["conditions"][0]["message"]
    assert "finalizers" not in shown["metadata"]  # no daemon: nothing to block deletion for


def test_clearing_pending_starts_the_run(scene: Scene) -> None:
    scene.apply(taskrun("held", task_name="absent-task", status="Pending"))
    scene.wait_for("held", jsonpath="{.status.conditions[0].reason}", value="Pending")

    scene.kubectl("patch", "taskrun", "held", "--type=merge", "-p", '{"spec":{"status":""}}')
    scene.wait("held", condition="Succeeded=false")

    assert scene.get("taskrun", "held")["status"]["conditions"][0]["reason"] == "InvalidTask"


def test_kopf_leaves_nothing_of_its_own_on_our_objects(scene: Scene) -> None:
    scene.apply(
        task("plain"), taskrun("plain-1", task_name="plain"), taskrun("gone-1", task_name="x")
    )
    scene.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "task/plain")
    scene.wait("gone-1", condition="Succeeded=false")

    for kind, name in (("task", "plain"), ("taskrun", "gone-1")):
        shown = scene.get(kind, name)
        text = json.dumps(shown)
        assert "kopf" not in text, f"{kind}/{name} carries kopf's marks: {text}"
        assert "kopf" not in shown.get("status", {})
        for key in shown["metadata"].get("annotations", {}):
            assert not key.startswith("kopf."), key
        assert set(shown["metadata"].get("finalizers", [])) <= {"missioncontrol.dev/finalizer"}
    sources = scene.kubectl("get", "events", "-o", "jsonpath={.items[*].source.component}")
    assert "kopf" not in sources
    assert set(sources.split()) <= {"mission-control"}


def test_a_finished_run_keeps_no_finalizer(scene: Scene) -> None:
    scene.apply(taskrun("done-1", task_name="nothing-here"))
    scene.wait("done-1", condition="Succeeded=false")

    # kubectl waits for the object to be gone: a finalizer left behind would hold it.
    scene.kubectl("delete", "taskrun", "done-1", "--timeout=30s")

    assert "done-1" not in scene.kubectl("get", "taskruns", "-o", "name")


def test_every_log_line_of_a_run_names_it(scene: Scene) -> None:
    scene.apply(taskrun("logged", task_name="absent"))
    scene.wait("logged", condition="Succeeded=false")

    def about_the_run() -> list[dict[str, Any]]:
        return [
            line
            for line in scene.operator.lines()
            if "logged" in line.get("message", "") or line.get("name") == "logged"
        ]

    # The status patch lands before the operator writes its "run ended" line: wait for the line.
    wait_until(lambda: bool(about_the_run()), timeout=30, what="the operator's lines about the run")
    lines = about_the_run()
    assert lines, "the operator logged nothing about the run"
    assert all(
        (line.get("namespace"), line.get("name")) == (scene.namespace, "logged") for line in lines
    )
    assert {"time", "level", "logger", "message"} <= set(lines[0])


def test_a_cluster_policy_gets_a_ready_condition_too(scene: Scene) -> None:
    name = f"{scene.namespace}-ceiling"
    policy = {
        "apiVersion": "missioncontrol.dev/v1alpha1",
        "kind": "ClusterToolPolicy",
        "metadata": {"name": name},
        "spec": {
            "grants": [{"namespaces": {"matchLabels": {"team": "a"}}, "tools": ["list_*"]}],
            "rules": [{"tools": ["reboot_*"], "action": "Deny"}],
        },
    }
    scene.apply(policy)
    try:
        scene.cluster.kubectl(
            "wait", "--for=condition=Ready=false", "--timeout=30s", f"clustertoolpolicy/{name}"
        )
        shown = json.loads(
            scene.cluster.kubectl("get", "clustertoolpolicy", name, "-o", "json").stdout
        )
    finally:
        scene.cluster.kubectl("delete", "clustertoolpolicy", name, check=False)

    (condition,) = shown["status"]["conditions"]
    assert condition["reason"] == "UnknownTool"
    assert "reboot_*" in condition["message"]
