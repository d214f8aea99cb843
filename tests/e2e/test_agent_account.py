"""``MC_AGENT_SERVICE_ACCOUNT`` names the ServiceAccount Kubernetes tools act as by default."""

from __future__ import annotations

import pytest

from tests.e2e.harness import Scene, task, taskrun
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


@pytest.fixture(scope="module")
def operator_extra_env() -> dict[str, str]:
    return {"MC_AGENT_SERVICE_ACCOUNT": "robot"}


def test_the_configured_default_service_account_is_the_one_used(
    scene: Scene, scripted_model: ScriptedModelFactory
) -> None:
    ns = scene.namespace
    model = scripted_model(turns=[call("list_k8s_pods", namespace=ns), say("No access.")])

    scene.apply(task("look", model=model), taskrun("look-1", task_name="look"))
    scene.wait("look-1")

    (result,) = scene.tool_results("look-1")
    assert f"service account {ns}/robot, which does not exist" in result
    started = [m for _, reason, m in scene.events("look-1") if reason == "Started"]
    assert started[0].endswith(f"as system:serviceaccount:{ns}:robot")
