"""Two replicas with the same arguments under one peering object, as the chart runs them with
``replicaCount: 2`` (``--peering NAME``, no ``--priority``): both write their heartbeat, the one
started first drives the runs and the other stands by.

An end-to-end scenario of its own so that the least-privilege proof has one that needs the
operator's rules on the peering objects (list and watch them, patch the heartbeat).
The takeover after a kill is ``tests/e2e/test_standby.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.controlplane.launcher import Cluster
from tests.e2e.harness import OperatorProcess, Scene, another_operator, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import wait_until
from tests.support.scripted_model import call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

ROOT = Path(__file__).resolve().parents[3]
PEERING = "mission-control"


@pytest.fixture(scope="module")
def operator_args(crds: Cluster) -> tuple[str, ...]:
    crds.kubectl("apply", "--server-side", "-f", str(ROOT / "crds" / "peering"))
    crds.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        "crd/kopfpeerings.kopf.dev", "crd/clusterkopfpeerings.kopf.dev",
    )  # fmt: skip
    return ("--peering", PEERING)


@pytest.fixture(scope="module")
def second_replica(
    operator_process: OperatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The same command started after the first one is live (the first is thus older)."""
    with another_operator(
        operator_process,
        log=tmp_path_factory.mktemp("second") / "operator.log",
        args=("--peering", PEERING),
        # kopf logs its peering decisions at INFO, which the operator shows with DEBUG only.
        env={"LOG_LEVEL": "DEBUG"},
    ) as process:
        yield process


def _messages(process: OperatorProcess) -> str:
    return "\n".join(str(line.get("message", "")) for line in process.lines())


def test_two_replicas_with_the_same_arguments_one_active_one_standing_by(
    scene: Scene,
    operator_process: OperatorProcess,
    second_replica: OperatorProcess,
    scripted_model: ScriptedModelFactory,
) -> None:
    scene.apply({"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": PEERING}})
    wait_until(
        lambda: len(scene.get("kopfpeering", PEERING).get("status") or {}) == 2,
        timeout=120,
        interval=1.0,
        what="both replicas' heartbeats in the peering object",
    )
    # The younger one saw the older one's heartbeat and paused (equal priorities would have
    # paused both: kopf's rule for peers it cannot rank).
    wait_until(
        lambda: "Pausing operations in favour of" in _messages(second_replica),
        timeout=120,
        interval=1.0,
        what="the second replica standing by",
    )
    assert "Pausing" not in _messages(operator_process)
    model = scripted_model(turns=[call("list_k8s_pods", namespace=scene.namespace), say("ok")])
    scene.apply(task("look", model=model), taskrun("look-1", task_name="look"))

    scene.wait("look-1", timeout=120)

    # The active one logs the end of the run after the status patch that ended the wait.
    wait_until(
        lambda: any(line.get("name") == "look-1" for line in operator_process.lines()),
        timeout=30,
        what="the active replica's log of the run",
    )
    # The standby logs at DEBUG, kopf's per-object lines included: it never touched the run.
    assert "look-1" not in second_replica.log.read_text(), second_replica.logs(lines=20)
