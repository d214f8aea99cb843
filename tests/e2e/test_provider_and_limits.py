"""A priced provider through the operator: its faults, cancelling a request in flight, the cost
limits, and time held for approval.

One operator for the module, its Anthropic provider the wire double (``claude-sonnet-4-6`` has
a built-in price, so every request costs something). The double answers 429 with
``Retry-After`` and 5xx when told to, and can hold a request until the client hangs up.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.harness import AGENT_SERVICE_ACCOUNT, OperatorProcess, Scene, task, taskrun
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.server import Reply
from tests.support.processes import wait_until
from tests.tools.kubernetes.helpers import pod

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

#: claude-sonnet-4-6: USD 3 per million input tokens, so one request of this size costs 0.30.
BIG_PROMPT = 100_000


@pytest.fixture(scope="module")
def anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(scope="module")
def operator_extra_env(anthropic: FakeAnthropic) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": anthropic.api_key, "ANTHROPIC_BASE_URL": anthropic.url}


@pytest.fixture
def double(anthropic: FakeAnthropic) -> Iterator[FakeAnthropic]:
    """The module's double with an empty script, its record of requests kept per test."""
    anthropic.reset_script()
    seen = len(anthropic.requests)
    yield anthropic
    anthropic.reset_script()
    del anthropic.requests[seen:]


def _task(name: str, **spec: Any) -> dict[str, Any]:
    manifest = task(name, **spec)
    manifest["spec"]["model"] = {"provider": "anthropic", "name": "claude-sonnet-4-6"}
    return manifest


def _condition(scene: Scene, name: str) -> dict[str, Any]:
    return dict(scene.get("taskrun", name)["status"]["conditions"][0])


def _attempts(operator: OperatorProcess) -> dict[str, float]:
    """``mission_control_llm_requests`` of the Anthropic model, by outcome (retries count)."""
    url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("mission_control_llm_requests_total{") and "anthropic" in line:
            labels, _, value = line.rpartition(" ")
            outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
            counts[outcome] = counts.get(outcome, 0) + float(value)
    return counts


def _messages_sent(double: FakeAnthropic, since: int) -> int:
    return len(double.requests_to("POST", r"/v1/messages")) - since


def test_throttling_and_server_errors_are_retried_and_the_run_succeeds(
    scene: Scene, operator_process: OperatorProcess, double: FakeAnthropic
) -> None:
    before = _attempts(operator_process)
    sent = len(double.requests_to("POST", r"/v1/messages"))
    double.fail(double.rate_limited(retry_after=1))
    double.fail(double.error(500, "api_error", "Internal server error"), times=2)
    double.say("All quiet.")
    scene.apply(_task("look"), taskrun("look-1", task_name="look"))
    scene.wait("look-1", timeout=120)

    assert scene.get("taskrun", "look-1")["status"]["result"]["summary"] == "All quiet."
    assert _messages_sent(double, sent) == 4  # one 429, two 500s, the answer
    after = _attempts(operator_process)
    retried = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert sum(retried.values()) == 4, retried
    assert retried.get("ok") == 1, retried


def test_a_provider_that_keeps_failing_ends_the_run_with_what_to_do(
    scene: Scene, double: FakeAnthropic
) -> None:
    sent = len(double.requests_to("POST", r"/v1/messages"))
    overloaded = double.error(529, "overloaded_error", "Overloaded", headers={"retry-after": "1"})
    double.fail(overloaded, times=50)
    scene.apply(_task("look"), taskrun("look-1", task_name="look"))
    scene.wait("look-1", condition="Succeeded=false", timeout=180)

    condition = _condition(scene, "look-1")
    assert condition["reason"] == "ProviderError"
    message = str(condition["message"])
    assert "Overloaded" in message, message  # the provider's own words
    assert "gave up after 6 attempts" in message, message
    assert "create a new TaskRun to try again later" in message, message  # what to do
    assert _messages_sent(double, sent) == 6  # the retry policy's attempts, no more


def test_cancel_abandons_the_llm_request_in_flight(scene: Scene, double: FakeAnthropic) -> None:
    sent = len(double.requests_to("POST", r"/v1/messages"))
    double.fail(Reply(hold=True))
    scene.apply(_task("look"), taskrun("look-1", task_name="look"))
    wait_until(
        lambda: _messages_sent(double, sent) == 1, timeout=120, what="the LLM request in flight"
    )
    scene.kubectl(
        "patch", "taskrun", "look-1", "--type=merge", "-p",
        json.dumps({"spec": {"status": "Cancelled", "statusMessage": "wrong cluster"}}),
    )  # fmt: skip
    scene.wait("look-1", condition="Succeeded=false", timeout=60)

    condition = _condition(scene, "look-1")
    assert condition["reason"] == "Cancelled"
    assert "wrong cluster" in str(condition["message"])
    # Seen at the double: the operator closed the connection of the request it abandoned.
    wait_until(lambda: len(double.abandoned) == 1, timeout=30, what="the request abandoned")
    assert double.abandoned[0].path == "/v1/messages"


def test_max_cost_usd_ends_the_run_naming_the_limit(scene: Scene, double: FakeAnthropic) -> None:
    ns = scene.namespace
    double.call(("list_k8s_pods", {"namespace": ns}), input_tokens=BIG_PROMPT)
    double.say("Never sent.")
    scene.apply(_task("look", limits={"maxCostUSD": "0.10"}), taskrun("look-1", task_name="look"))
    scene.wait("look-1", condition="Succeeded=false", timeout=120)

    condition = _condition(scene, "look-1")
    assert condition["reason"] == "LimitExceeded"
    message = str(condition["message"])
    assert "maxCostUSD 0.10" in message, message
    used = Decimal(scene.get("taskrun", "look-1")["status"]["usage"]["costUSD"])
    assert used > Decimal("0.10")
    assert str(used.normalize()) in message or f"{used:.2f}" in message, message


def test_the_daily_cost_budget_of_a_namespace_ends_the_next_run(
    scene: Scene, double: FakeAnthropic
) -> None:
    scene.apply(
        {
            "apiVersion": "missioncontrol.dev/v1alpha1",
            "kind": "ToolPolicy",
            "metadata": {"name": "default"},
            "spec": {"budgets": {"maxCostUSDPerDay": "0.20"}},
        }
    )
    double.say("Looked.", input_tokens=BIG_PROMPT)
    scene.apply(_task("look"), taskrun("look-1", task_name="look"))
    scene.wait("look-1", timeout=120)  # 0.30 spent: the day's budget is now used up
    sent = len(double.requests_to("POST", r"/v1/messages"))

    scene.apply(taskrun("look-2", task_name="look"))
    scene.wait("look-2", condition="Succeeded=false", timeout=120)

    condition = _condition(scene, "look-2")
    assert condition["reason"] == "LimitExceeded"
    message = str(condition["message"])
    assert "maxCostUSDPerDay 0.20" in message, message
    assert "0.30" in message, message  # what the namespace used today
    assert _messages_sent(double, sent) == 0  # checked before the request


def test_time_held_for_approval_does_not_count_toward_the_timeout(
    scene: Scene, double: FakeAnthropic
) -> None:
    ns = scene.namespace
    scene.kubectl(
        "create", "rolebinding", "agent-edit", "--clusterrole=edit",
        f"--serviceaccount={ns}:{AGENT_SERVICE_ACCOUNT}",
    )  # fmt: skip
    scene.apply(pod("stale-0"))
    double.call(("delete_k8s_pod", {"namespace": ns, "name": "stale-0"}))
    double.say("Deleted stale-0.")
    timeout = 10
    scene.apply(
        _task("evict", tools=["delete_k8s_pod"], limits={"timeoutSeconds": timeout}),
        taskrun("evict-1", task_name="evict"),
    )
    scene.wait_for(
        "evict-1", jsonpath="{.status.conditions[0].reason}", value="AwaitingApproval", timeout=120
    )
    held = time.monotonic()
    pending = scene.get("taskrun", "evict-1")["status"]["pendingApproval"]
    # Held for longer than the whole timeout before anyone decides.
    time.sleep(timeout + 5 - (time.monotonic() - held))
    assert _condition(scene, "evict-1")["reason"] == "AwaitingApproval"
    me = scene.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    approval = {"toolCallId": pending["toolCallId"], "decision": "Approve", "by": me}
    scene.kubectl(
        "patch", "taskrun", "evict-1", "--type=merge", "-p",
        json.dumps({"spec": {"approvals": [approval]}}),
    )  # fmt: skip
    scene.wait("evict-1", timeout=120)

    assert scene.get("taskrun", "evict-1")["status"]["result"]["summary"] == "Deleted stale-0."
    assert "stale-0" not in scene.kubectl("get", "pods", "-o", "name")
