"""Scenarios 4 and 7: policy denials and bad model output go back to the model; the run goes on.

Denials (a tool not in the Task, a namespace outside ``targetNamespaces``, a ``Deny`` rule) are
audited and each posts a ``ToolDenied`` Event. Bad output (an unknown tool, arguments failing
the schema, arguments that are not JSON, a call written as JSON text, an empty answer, 400
calls in one answer) is counted and answered as a tool error, never a crash.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.e2e.harness import Scene, task, taskrun
from tests.fakes.anthropic import FakeAnthropic
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import Turn, call, json_call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


@pytest.fixture(scope="module")
def anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(scope="module")
def operator_extra_env(anthropic: FakeAnthropic) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": anthropic.api_key, "ANTHROPIC_BASE_URL": anthropic.url}


def tool_results(scene: Scene, uid: str) -> list[str]:
    """What the model was told for each of its calls, in order (from the journal)."""
    with psycopg.connect(scene.database_url) as db:
        rows = db.execute(
            "SELECT payload->'messages' FROM task_events WHERE run_uid = %s "
            "AND payload ? 'messages' ORDER BY seq",
            (uid,),
        ).fetchall()
    return [
        str(message["content"])
        for (messages,) in rows
        for message in messages
        if message.get("role") == "tool"
    ]


def audit_rows(scene: Scene, uid: str) -> list[tuple[str, str]]:
    with psycopg.connect(scene.database_url) as db:
        rows = db.execute(
            "SELECT action, outcome FROM audit_entries WHERE run_uid = %s ORDER BY id", (uid,)
        ).fetchall()
    return [(str(action), str(outcome)) for action, outcome in rows]


def test_denials_are_returned_to_the_model_audited_and_announced(
    scene: Scene, anthropic: FakeAnthropic
) -> None:
    # The wire double: Ollama's parser only reports calls of tools it was offered.
    ns = scene.namespace
    anthropic.call(("delete_k8s_pod", {"namespace": ns, "name": "web-0"}))  # not in the Task
    anthropic.call(("list_k8s_pods", {"namespace": "kube-system"}))  # outside targetNamespaces
    anthropic.call(("get_k8s_events", {"namespace": ns}))  # a Deny rule
    anthropic.call(("list_k8s_pods", {"namespace": ns}))  # allowed
    anthropic.say("I could only list the pods.")
    look = task("look", tools=["list_k8s_pods", "get_k8s_events"], policyRef={"name": "narrow"})
    look["spec"]["model"] = {"provider": "anthropic"}
    scene.apply(
        {
            "apiVersion": "missioncontrol.dev/v1alpha1",
            "kind": "ToolPolicy",
            "metadata": {"name": "narrow"},
            "spec": {
                "rules": [{"tools": ["get_k8s_events"], "action": "Deny"}],
                "targetNamespaces": [ns],
            },
        },
        look,
        taskrun("look-1", task_name="look"),
    )

    scene.wait("look-1")

    run = scene.get("taskrun", "look-1")
    assert run["status"]["result"]["summary"] == "I could only list the pods."
    assert run["status"]["resolved"]["policy"] == f"{ns}/narrow"
    denied = [(kind, msg) for kind, reason, msg in scene.events("look-1") if reason == "ToolDenied"]
    assert len(denied) == 3
    assert all(kind == "Warning" for kind, _ in denied)
    assert "not among the Task's tools" in denied[0][1]
    assert "namespace kube-system is outside targetNamespaces" in denied[1][1]
    assert f"denied by policy {ns}/narrow" in denied[2][1]
    results = tool_results(scene, run["metadata"]["uid"])
    assert sum("denied by" in result for result in results) == 3
    actions = [action for action, _ in audit_rows(scene, run["metadata"]["uid"])]
    assert actions.count("tool.denied") == 3
    assert actions.count("tool.executed") == 1


def test_bad_model_output_is_answered_and_counted_never_a_crash(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    model = scripted_model(
        turns=[
            call("list_k8s_pods", namespace="Not_A_Namespace!"),  # fails the schema
            Turn(text='{"name": "get_k8s_events", "arguments": "{namespace: oops"}'),
            json_call("list_k8s_pods", namespace=ns),  # JSON text, repaired
            say(" "),  # an empty answer
            say("Nothing is running here."),
        ]
    )
    scene.apply(
        task("check", model=model, tools=["list_k8s_pods", "get_k8s_events"]),
        taskrun("check-1", task_name="check"),
    )

    scene.wait("check-1")

    status = scene.get("taskrun", "check-1")["status"]
    assert status["result"]["summary"] == "Nothing is running here."
    assert status["steps"] == 5
    results = tool_results(scene, scene.get("taskrun", "check-1")["metadata"]["uid"])
    assert any("invalid arguments for list_k8s_pods" in result for result in results)
    assert any("could not be read" in result for result in results)
    assert any(f"no pods in namespace {ns}" in result for result in results)


def test_four_hundred_calls_in_one_answer_and_an_unknown_tool_are_survived(
    scene: Scene, anthropic: FakeAnthropic
) -> None:
    ns = scene.namespace
    anthropic.call(*[("list_k8s_pods", {"namespace": ns})] * 400)
    anthropic.call(("list_k8s_podz", {"namespace": ns}))  # a tool that does not exist
    anthropic.say("Enough.")
    manifest = task("flood", tools=["list_k8s_pods"])
    manifest["spec"]["model"] = {"provider": "anthropic"}
    scene.apply(manifest, taskrun("flood-1", task_name="flood"))

    scene.wait("flood-1")

    status = scene.get("taskrun", "flood-1")["status"]
    assert status["result"]["summary"] == "Enough."
    assert status["toolCalls"] == 401
    uid = scene.get("taskrun", "flood-1")["metadata"]["uid"]
    results = tool_results(scene, uid)
    assert len(results) == 401
    assert sum(result.startswith("refused: at most 16 tool calls") for result in results) == 384
    assert results[-1].startswith("unknown tool 'list_k8s_podz': there is no such tool")
    actions = [action for action, _ in audit_rows(scene, uid)]
    assert actions.count("tool.executed") == 16
