"""TaskTriggers sharded by ``--selector``: two operators over the same namespaces with disjoint
selectors (``shard=a``, ``shard=b``). A schedule trigger labelled ``shard=a`` is served by
operator A alone: one run per tick, each carrying the trigger's labels (so A drives it too),
and B never touches the trigger, its status or its runs. The webhook receiver answers for its
own shard's triggers only: another shard's trigger is 404, as an unknown one."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import OperatorProcess, Scene, another_operator
from tests.e2e.triggers import counts, outcome, quick_task, runs_of, status, this_checkout, trigger
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import free_port, wait_until

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]
PORT_A, PORT_B = free_port(), free_port()
EVERY_2S = "*/2 * * * * *"


@pytest.fixture(scope="module")
def operator_extra_env() -> dict[str, str]:
    return {**this_checkout(), "MC_WEBHOOK_PORT": str(PORT_A), "MC_WEBHOOK_HOST": "127.0.0.1"}


@pytest.fixture(scope="module")
def operator_args() -> tuple[str, ...]:
    return ("--selector", "shard=a")


@pytest.fixture(scope="module")
def second_operator(
    operator_process: OperatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    with another_operator(
        operator_process,
        log=tmp_path_factory.mktemp("operator-b") / "operator.log",
        args=("--selector", "shard=b"),
        env={"MC_WEBHOOK_PORT": str(PORT_B)},
    ) as process:
        yield process


def _sharded(document: dict[str, Any], shard: str) -> dict[str, Any]:
    document["metadata"]["labels"] = {"shard": shard}
    return document


def test_a_schedule_trigger_is_served_only_by_the_operator_of_its_shard(
    scene: Scene,
    operator_process: OperatorProcess,
    second_operator: OperatorProcess,
    scripted_model: ScriptedModelFactory,
) -> None:
    quick_task(scene, scripted_model, "quick")
    limits = {"successfulRunsHistoryLimit": 50, "failedRunsHistoryLimit": 50}
    scene.apply(_sharded(trigger("tick-a", task_name="quick", schedule={"cron": EVERY_2S},
                                 **limits), "a"))  # fmt: skip
    wait_until(lambda: counts(scene, "tick-a").get("started", 0) >= 3, timeout=90,
               what="three scheduled runs")  # fmt: skip
    scene.apply(_sharded(trigger("tick-a", task_name="quick", schedule={"cron": EVERY_2S},
                                 suspend=True, **limits), "a"))  # fmt: skip

    def settled() -> bool:
        runs = runs_of(scene, "tick-a")
        return all(outcome(run) == "True" for run in runs) and counts(scene, "tick-a").get(
            "started"
        ) == len(runs)

    wait_until(settled, timeout=120, what="every run finished and counted once")

    runs = runs_of(scene, "tick-a")
    names = [run["metadata"]["name"] for run in runs]
    assert len(runs) >= 3
    assert counts(scene, "tick-a")["started"] == len(runs)
    assert counts(scene, "tick-a").get("skipped", 0) == 0
    assert status(scene, "tick-a")["lastRun"]["name"] in names
    for run in runs:
        assert run["metadata"]["labels"] == {"shard": "a", "missioncontrol.dev/trigger": "tick-a"}
    # B's log never names the trigger or its runs: it neither ticked, nor patched the
    # trigger's status, nor drove a run. A's log names them (it did all of that).
    assert "tick-a" not in second_operator.log.read_text(errors="replace")
    a_named = {str(line.get("name")) for line in operator_process.lines()}
    assert set(names) <= a_named


def _post(port: int, namespace: str, name: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/alertmanager/v4/{namespace}/{name}",
        data=b"{}",
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_the_receiver_answers_for_another_shards_trigger_as_for_an_unknown_one(
    scene: Scene, operator_process: OperatorProcess, second_operator: OperatorProcess
) -> None:
    alert = {
        "matchers": [{"label": "alertname", "op": "=", "value": "KubePodCrashLooping"}],
        "tokenSecretRef": {"name": "am-token", "key": "token"},
    }
    scene.apply(_sharded(trigger("alert-b", task_name="quick", alert=alert), "b"))
    ns = scene.namespace

    # B serves its trigger: it asks for the token (no Authorization header here).
    assert _post(PORT_B, ns, "alert-b")[0] == 401
    assert _post(PORT_A, ns, "alert-b") == (404, {"error": f"no TaskTrigger {ns}/alert-b"})
    assert _post(PORT_A, ns, "no-such-trigger") == (
        404,
        {"error": f"no TaskTrigger {ns}/no-such-trigger"},
    )
