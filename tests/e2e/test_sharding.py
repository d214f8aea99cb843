"""Sharding by label selector: two operators over the same namespaces with disjoint
``--selector``s each drive only their own TaskRuns, and neither touches a run matching
neither."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import OperatorProcess, Scene, another_operator, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


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
        args=("--selector", "shard=b,!unsharded"),
    ) as process:
        yield process


def _runs_named(process: OperatorProcess) -> set[str]:
    return {str(line["name"]) for line in process.lines() if "name" in line}


def test_two_operators_with_disjoint_selectors_each_run_only_their_own(
    scene: Scene,
    operator_process: OperatorProcess,
    second_operator: OperatorProcess,
    scripted_model: ScriptedModelFactory,
) -> None:
    models = {name: scripted_model(turns=[say(f"{name} done.")]) for name in ("a", "b", "x")}
    runs = []
    for shard in ("a", "b"):
        for i in range(2):
            run = taskrun(f"run-{shard}-{i}", task_name=f"t-{shard}")
            run["metadata"]["labels"] = {"shard": shard}
            runs.append(run)
    stray = taskrun("run-x", task_name="t-x")
    stray["metadata"]["labels"] = {"shard": "c"}
    scene.apply(*(task(f"t-{name}", model=model) for name, model in models.items()), stray, *runs)

    for shard in ("a", "b"):
        for i in range(2):
            scene.wait(f"run-{shard}-{i}", timeout=120)

    a_named, b_named = _runs_named(operator_process), _runs_named(second_operator)
    assert {"run-a-0", "run-a-1"} <= a_named
    assert {"run-b-0", "run-b-1"} <= b_named
    assert not a_named & {"run-b-0", "run-b-1", "run-x"}
    assert not b_named & {"run-a-0", "run-a-1", "run-x"}
    for shard in ("a", "b"):
        status = scene.get("taskrun", f"run-{shard}-0")["status"]
        assert status["result"]["summary"] == f"{shard} done."
    untouched = scene.get("taskrun", "run-x")
    assert "status" not in untouched or not untouched["status"]
    assert not untouched["metadata"].get("finalizers")
