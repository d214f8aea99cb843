"""Scenario 8: invalid work fails at once, with the right reason and a message naming the fix.

Missing Task, Task not Ready, missing param, unconfigured provider: each run ends ``False``
before any LLM request (the store has none for it), and ``kubectl describe`` tells why.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.e2e.harness import Scene, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


def llm_requests_of(scene: Scene, name: str) -> int:
    uid = scene.get("taskrun", name)["metadata"]["uid"]
    with psycopg.connect(scene.database_url) as db:
        row = db.execute("SELECT count(*) FROM llm_requests WHERE run_uid = %s", (uid,)).fetchone()
    assert row is not None
    return int(row[0])


def ended(scene: Scene, name: str) -> dict[str, str]:
    scene.wait(name, condition="Succeeded=false")
    status = scene.get("taskrun", name)["status"]
    (condition,) = [c for c in status["conditions"] if c["type"] == "Succeeded"]
    return {"reason": condition["reason"], "message": condition["message"]}


def test_a_run_of_a_missing_task_is_invalid_task_naming_it(scene: Scene) -> None:
    scene.apply(taskrun("orphan", task_name="nowhere"))

    outcome = ended(scene, "orphan")

    assert outcome["reason"] == "InvalidTask"
    assert outcome["message"] == (
        f"Task {scene.namespace}/nowhere not found: create it, or fix spec.taskRef.name"
    )
    assert llm_requests_of(scene, "orphan") == 0
    assert ("Warning", "Failed", outcome["message"]) in scene.events("orphan")
    uid = scene.get("taskrun", "orphan")["metadata"]["uid"]
    with psycopg.connect(scene.database_url) as db:
        mirrored = db.execute(
            "SELECT reason, succeeded, message FROM task_runs WHERE uid = %s", (uid,)
        ).fetchone()
    assert mirrored == ("InvalidTask", "False", outcome["message"])


def test_a_run_of_a_task_that_is_not_ready_carries_the_tasks_reason(scene: Scene) -> None:
    scene.apply(
        task("typo", tools=["list_k8s_pods", "list_k8s_podz"]),
        taskrun("typo-1", task_name="typo"),
    )

    outcome = ended(scene, "typo-1")

    assert outcome["reason"] == "InvalidTask"
    assert outcome["message"].startswith(
        f"Task {scene.namespace}/typo is not Ready (UnknownTool): unknown tool list_k8s_podz"
    )
    assert llm_requests_of(scene, "typo-1") == 0
    scene.kubectl(
        "wait", "--for=condition=Ready=false", "--timeout=30s", "task/typo"
    )  # the Task itself says so too
    shown = scene.get("task", "typo")["status"]["conditions"][0]
    assert (shown["reason"], shown["observedGeneration"]) == ("UnknownTool", 1)


def test_a_task_whose_model_cannot_call_tools_or_is_not_pulled_is_not_ready_runs_fail_fast(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    talker = scripted_model(turns=[say("I only talk.")], tools=False)  # Ollama: no "tools"
    scene.apply(
        task("talker", model=talker),
        taskrun("talker-1", task_name="talker"),
        task("absent", model="never-pulled-here"),
        taskrun("absent-1", task_name="absent"),
    )

    talked = ended(scene, "talker-1")
    absent = ended(scene, "absent-1")

    assert talked["reason"] == absent["reason"] == "InvalidTask"
    assert talked["message"] == (
        f"Task {scene.namespace}/talker is not Ready (ModelCannotCallTools): ollama model "
        f"{talker} cannot call tools (its server does not report the tools capability), and "
        "every Task needs tools: choose a model that supports tool calling, e.g. llama3.1 or qwen3"
    )
    assert absent["message"].startswith(
        f"Task {scene.namespace}/absent is not Ready (ModelNotPulled): ollama model "
        "never-pulled-here is not pulled on the Ollama server: run `ollama pull never-pulled-here`"
    )
    assert llm_requests_of(scene, "talker-1") == llm_requests_of(scene, "absent-1") == 0
    for name, reason in (("talker", "ModelCannotCallTools"), ("absent", "ModelNotPulled")):
        scene.kubectl("wait", "--for=condition=Ready=false", "--timeout=30s", f"task/{name}")
        assert scene.get("task", name)["status"]["conditions"][0]["reason"] == reason


def test_a_missing_param_is_invalid_params_naming_it(scene: Scene) -> None:
    scene.apply(
        task(
            "needs-ns",
            prompt="Look at $(params.target).",
            params=[{"name": "target", "description": "where"}],
        ),
        taskrun("needs-ns-1", task_name="needs-ns"),
    )

    outcome = ended(scene, "needs-ns-1")

    assert outcome["reason"] == "InvalidParams"
    assert "target" in outcome["message"]
    assert llm_requests_of(scene, "needs-ns-1") == 0


def test_an_unconfigured_provider_is_provider_error_naming_the_setting(scene: Scene) -> None:
    cloudy = task("cloudy")
    cloudy["spec"]["model"] = {"provider": "gemini"}
    scene.apply(cloudy, taskrun("cloudy-1", task_name="cloudy"))

    outcome = ended(scene, "cloudy-1")

    assert outcome["reason"] == "ProviderError"
    assert "set GEMINI_API_KEY" in outcome["message"]
    assert llm_requests_of(scene, "cloudy-1") == 0
    described = scene.describe("taskrun", "cloudy-1")
    assert "ProviderError" in described
    assert "GEMINI_API_KEY" in described


def test_an_unconfigured_fallback_provider_is_provider_error_naming_the_setting(
    scene: Scene,
) -> None:
    backed = task("backed")
    backed["spec"]["model"] = {
        "provider": "ollama",
        "name": "llama3.1",
        "fallbacks": [{"provider": "anthropic", "name": "claude-haiku-4-5"}],
    }
    scene.apply(backed, taskrun("backed-1", task_name="backed"))

    outcome = ended(scene, "backed-1")

    assert outcome == {
        "reason": "ProviderError",
        "message": "the fallback provider anthropic is not configured: set ANTHROPIC_API_KEY",
    }
    assert llm_requests_of(scene, "backed-1") == 0
    scene.kubectl("wait", "--for=condition=Ready=false", "--timeout=30s", "task/backed")
    assert scene.get("task", "backed")["status"]["conditions"][0]["reason"] == (
        "ProviderUnavailable"
    )
