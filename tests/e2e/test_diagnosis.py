"""Scenario 1: a read-only diagnosis over real pods and events, driven with kubectl.

``kubectl apply -f`` a Task and a TaskRun, follow ``kubectl get taskruns -w``, ``kubectl wait
--for=condition=Succeeded``, read ``kubectl describe``; the summary is in status, the watch saw
Steps and Tokens grow, and the journal, ``llm_requests`` and ``token_usage`` hold every request.
Once through the real Ollama (scripted model), once each through the Gemini and Anthropic
wire doubles.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest

from tests.e2e.harness import Scene, task, taskrun
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

SUMMARY = "Pod web-0 is Pending: no node runs it. Events show nothing else."


@pytest.fixture(scope="module")
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture(scope="module")
def anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(scope="module")
def operator_extra_env(gemini: FakeGemini, anthropic: FakeAnthropic) -> dict[str, str]:
    return {
        "GEMINI_API_KEY": gemini.api_key,
        "GEMINI_BASE_URL": gemini.url,
        "ANTHROPIC_API_KEY": anthropic.api_key,
        "ANTHROPIC_BASE_URL": anthropic.url,
    }


def pod(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "registry.lan/web:1.4"}]},
    }


def rows_of(scene: Scene, table: str, uid: str) -> int:
    with psycopg.connect(scene.database_url) as db:
        row = db.execute(f"SELECT count(*) FROM {table} WHERE run_uid = %s", (uid,)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_read_only_diagnosis_runs_to_succeeded_with_its_story_told(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    scene.apply(pod("web-0"))
    model = scripted_model(
        turns=[
            call("list_k8s_pods", namespace=ns),
            call("get_k8s_events", namespace=ns),
            say(SUMMARY),
        ]
    )
    watch = scene.watch()
    scene.apply(
        task(
            "diagnose",
            model=model,
            prompt="Why is web-0 in namespace $(params.ns) not running?",
            params=[{"name": "ns", "description": "where to look"}],
            tools=["list_k8s_pods", "get_k8s_events", "get_k8s_pod_logs"],
        ),
        taskrun("diagnose-1", task_name="diagnose", params=[{"name": "ns", "value": ns}]),
    )

    scene.wait("diagnose-1", timeout=120)
    watch.wait_for_reason("diagnose-1", "Succeeded")
    seen = watch.stop()

    run = scene.get("taskrun", "diagnose-1")
    status = run["status"]
    assert status["result"]["summary"] == SUMMARY
    assert (status["steps"], status["toolCalls"]) == (3, 2)
    assert status["usage"]["totalTokens"] > 0
    assert status["usage"]["costUSD"] == "0"
    assert status["resolved"]["model"] == model
    assert status["conditions"][0]["reason"] == "Succeeded"

    rows = watch.rows("diagnose-1")
    reasons = [row["REASON"] for row in rows]
    assert reasons[-1] == "Succeeded", seen
    assert "Running" in reasons, seen
    steps = [int(row["STEPS"]) for row in rows if row["STEPS"] != "<none>"]
    tokens = [int(row["TOKENS"]) for row in rows if row["TOKENS"] != "<none>"]
    assert steps == sorted(steps), seen
    assert steps[-1] == 3, seen
    assert len(set(steps)) >= 3, seen  # the watch saw the run move step by step
    assert tokens == sorted(tokens), seen
    assert len(set(tokens)) >= 3, seen

    uid = run["metadata"]["uid"]
    assert rows_of(scene, "llm_requests", uid) == 3
    assert rows_of(scene, "token_usage", uid) == 3
    assert rows_of(scene, "task_events", uid) >= 3 + 3 + 2  # requests, responses, results
    assert [reason for _, reason, _ in scene.events("diagnose-1")] == ["Started", "Succeeded"]
    described = scene.describe("taskrun", "diagnose-1")
    assert "Started" in described
    assert "Succeeded" in described
    # Kubernetes writes of the run (status patches and Events): at most steps + 3.
    (ended,) = [
        line["message"]
        for line in scene.operator.lines()
        if line.get("name") == "diagnose-1" and line["message"].startswith("run ended")
    ]
    counted = re.search(r"\((\d+) Kubernetes writes\)", ended)
    assert counted is not None, ended
    assert int(counted.group(1)) <= status["steps"] + 3, ended


@pytest.mark.parametrize("provider", ["gemini", "anthropic"])
def test_a_diagnosis_through_a_cloud_provider_is_priced(
    scene: Scene, provider: str, gemini: FakeGemini, anthropic: FakeAnthropic
) -> None:
    ns = scene.namespace
    scene.apply(pod("api-0"))
    if provider == "gemini":
        gemini.call(("list_k8s_pods", {"namespace": ns}), prompt_tokens=1000)
        gemini.say("api-0 is Pending.", prompt_tokens=1200, completion_tokens=40)
    else:
        anthropic.call(("list_k8s_pods", {"namespace": ns}), input_tokens=1000)
        anthropic.say("api-0 is Pending.", input_tokens=1200, output_tokens=40)
    manifest = task("cloud", tools=["list_k8s_pods"], prompt="How are the pods?")
    manifest["spec"]["model"] = {"provider": provider}

    scene.apply(manifest, taskrun("cloud-1", task_name="cloud"))
    scene.wait("cloud-1", timeout=120)

    status = scene.get("taskrun", "cloud-1")["status"]
    assert status["result"]["summary"] == "api-0 is Pending."
    assert status["resolved"]["provider"] == provider
    assert Decimal(status["usage"]["costUSD"]) > 0
    assert status["usage"]["promptTokens"] == 2200
    with psycopg.connect(scene.database_url) as db:
        row = db.execute(
            "SELECT provider, sum(cost_usd) FROM token_usage WHERE run_uid = %s GROUP BY provider",
            (scene.get("taskrun", "cloud-1")["metadata"]["uid"],),
        ).fetchone()
    assert row is not None
    assert row[0] == provider
    assert row[1] == Decimal(status["usage"]["costUSD"])
    assert json.loads(scene.kubectl("get", "taskrun", "cloud-1", "-o", "json"))["status"][
        "completionTime"
    ]


def test_a_rate_limited_gemini_fails_over_to_anthropic_and_status_splits_the_usage(
    scene: Scene, gemini: FakeGemini, anthropic: FakeAnthropic
) -> None:
    ns = scene.namespace
    scene.apply(pod("db-0"))
    gemini.call(("list_k8s_pods", {"namespace": ns}), prompt_tokens=1000)

    def storm_after_the_first_answer(request: object) -> None:
        gemini.after_request = None
        gemini.rate_limit_storm("1s")

    gemini.after_request = storm_after_the_first_answer
    anthropic.say("db-0 is Pending.", input_tokens=1200, output_tokens=40)
    manifest = task("chain", tools=["list_k8s_pods"], prompt="How are the pods?")
    manifest["spec"]["model"] = {
        "provider": "gemini",
        "name": "gemini-2.0-flash",
        "fallbacks": [{"provider": "anthropic", "name": "claude-sonnet-4-6"}],
    }
    try:
        scene.apply(manifest, taskrun("chain-1", task_name="chain"))
        scene.wait("chain-1", timeout=120)
    finally:
        gemini.rate_limit_storm(None)

    status = scene.get("taskrun", "chain-1")["status"]
    assert status["result"]["summary"] == "db-0 is Pending."
    assert status["resolved"]["chain"] == [
        {"provider": "gemini", "model": "gemini-2.0-flash"},
        {"provider": "anthropic", "model": "claude-sonnet-4-6"},
    ]
    by_model = {(m["provider"], m["requests"], m["promptTokens"]): m["costUSD"]
                for m in status["usage"]["byModel"]}  # fmt: skip
    gemini_cost = (1000 * Decimal("0.10") + 5 * Decimal("0.40")) / 1_000_000
    claude_cost = (1200 * Decimal(3) + 40 * Decimal(15)) / 1_000_000
    assert {key: Decimal(value) for key, value in by_model.items()} == {
        ("gemini", 1, 1000): gemini_cost,
        ("anthropic", 1, 1200): claude_cost,
    }
    assert Decimal(status["usage"]["costUSD"]) == gemini_cost + claude_cost
    [switch] = [e for e in scene.events("chain-1") if e[1] == "ModelFallback"]
    assert switch[0] == "Warning"
    assert "gemini/gemini-2.0-flash failed (RateLimited:" in switch[2]
    assert "switched to anthropic/claude-sonnet-4-6" in switch[2]
