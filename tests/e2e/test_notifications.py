"""Notifications end to end: the operator as users run it, Apprise for real, receivers on loopback.

The operator-wide receiver (``MC_NOTIFY_URLS_FILE``) is a JSON webhook whose URL carries a
canary token; namespaces add receivers through ``ToolPolicy.spec.notify`` and a Secret the
agent ServiceAccount may read. One message per transition, none twice after a restart, a
receiver that hangs or refuses never delays a run, and the canary appears nowhere but in the
requests the receivers got.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.e2e.harness import (
    AGENT_SERVICE_ACCOUNT,
    OperatorProcess,
    Scene,
    hold_a_delete,
    task,
    taskrun,
)
from tests.fakes.ntfy import FakeNtfy
from tests.fakes.server import FakeServer, RecordedRequest, Reply
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.processes import wait_until
from tests.support.scripted_model import call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

CANARY = "canary9b27d4"
PUBLIC_URL = "https://mc.example.lan"


class Gate:
    """A receiver that takes the request and answers only when opened, then with a 503."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.server = FakeServer()
        self.server.route("POST", r"/slow/.*", self._hold)

    def _hold(self, request: RecordedRequest, _: Any) -> Reply:
        self.opened.wait(timeout=300)
        return Reply(503, {"error": "down for maintenance"})


@pytest.fixture(scope="module")
def webhook() -> Iterator[FakeServer]:
    with FakeServer() as server:
        server.route("POST", r"/hooks/.*", lambda request, match: Reply(200, {"ok": True}))
        yield server


@pytest.fixture(scope="module")
def ntfy() -> Iterator[FakeNtfy]:
    with FakeNtfy() as server:
        yield server


@pytest.fixture(scope="module")
def gate() -> Iterator[Gate]:
    made = Gate()
    made.server.start()
    try:
        yield made
    finally:
        made.opened.set()
        made.server.stop()


@pytest.fixture(scope="module")
def operator_extra_env(
    webhook: FakeServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    urls = tmp_path_factory.mktemp("notify") / "urls"
    urls.write_text(f"# on-call\njson://127.0.0.1:{webhook.port}/hooks/{CANARY}\n")
    return {
        "MC_NOTIFY_URLS_FILE": str(urls),
        "MC_PUBLIC_URL": PUBLIC_URL,
        # A receiver's failure is reported after one attempt past this; hangs wait long.
        "MC_NOTIFY_RETRY_SECONDS": "1",
        "MC_NOTIFY_TIMEOUT_SECONDS": "240",
    }


def messages_about(server: FakeServer, scene: Scene, run: str) -> list[dict[str, Any]]:
    return [
        r.json()
        for r in server.requests
        if r.json().get("title", "").endswith(f" {scene.namespace}/{run}")
    ]


def notify_policy(scene: Scene, *, urls: str, on: list[str]) -> None:
    """ToolPolicy ``default`` with ``notify``, its Secret, and the agent allowed to read it."""
    ns = scene.namespace
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "mc-notify"},
        "data": {"urls": base64.b64encode(urls.encode()).decode()},
    }
    policy = {
        "apiVersion": "missioncontrol.dev/v1alpha1",
        "kind": "ToolPolicy",
        "metadata": {"name": "default"},
        "spec": {"notify": {"secretRef": {"name": "mc-notify", "key": "urls"}, "on": on}},
    }
    scene.apply(secret, policy)
    scene.kubectl(
        "create", "role", "read-notify", "--verb=get", "--resource=secrets",
        "--resource-name=mc-notify",
    )  # fmt: skip
    scene.kubectl(
        "create", "rolebinding", "read-notify", "--role=read-notify",
        f"--serviceaccount={ns}:{AGENT_SERVICE_ACCOUNT}",
    )  # fmt: skip


def approve(scene: Scene, run: str, tool_call_id: str) -> None:
    me = scene.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    approval = {"toolCallId": tool_call_id, "decision": "Approve", "by": me}
    scene.kubectl(
        "patch", "taskrun", run, "--type=merge", "-p",
        json.dumps({"spec": {"approvals": [approval]}}),
    )  # fmt: skip


def journal_and_records(scene: Scene, uid: str) -> str:
    with psycopg.connect(scene.database_url) as db:
        rows = [
            *db.execute("SELECT payload::text FROM task_events WHERE run_uid = %s", (uid,)),
            *db.execute("SELECT row_to_json(t)::text FROM task_runs t WHERE uid = %s", (uid,)),
            *db.execute("SELECT row_to_json(a)::text FROM audit_entries a"),
            *db.execute("SELECT row_to_json(n)::text FROM notifications_sent n"),
        ]
    return "\n".join(str(row[0]) for row in rows)


def test_a_held_call_sends_one_message_and_a_restart_does_not_send_it_again(
    scene: Scene,
    operator_process: OperatorProcess,
    scripted_model: ScriptedModelFactory,
    webhook: FakeServer,
) -> None:
    ns = scene.namespace
    tool_call_id = hold_a_delete(scene, scripted_model, name="evict")
    wait_until(
        lambda: len(messages_about(webhook, scene, "evict-1")) == 1,
        timeout=60,
        what="the approval message",
    )

    operator_process.stop()
    operator_process.start()
    wait_until(
        lambda: "was sent before; not again" in operator_process.log.read_text(),
        timeout=90,
        what="the resumed run to find its message sent",
    )
    approve(scene, "evict-1", tool_call_id)
    scene.wait("evict-1", timeout=120)

    (message,) = messages_about(webhook, scene, "evict-1")
    assert message["title"] == f"Approval needed: {ns}/evict-1"
    assert message["type"] == "warning"
    assert message["message"].splitlines() == [
        f"{ns}/evict-1 (Task {ns}/evict) wants to call delete_k8s_pod (DESTRUCTIVE).",
        f'Arguments: {{"name":"stale-0","namespace":"{ns}"}}',
        f"Approve: kubectl mc approve evict-1 -n {ns} --tool-call {tool_call_id}",
        f"Reject: kubectl mc reject evict-1 -n {ns} --tool-call {tool_call_id}",
        f"{PUBLIC_URL}/ui/#/runs/{ns}/evict-1",
    ]
    # The canary of the receiver's URL: in the receiver's requests, and nowhere else.
    assert any(CANARY in request.path for request in webhook.requests)
    run = scene.get("taskrun", "evict-1")
    assert CANARY not in json.dumps(run)
    assert CANARY not in json.dumps(scene.events("evict-1"))
    assert CANARY not in journal_and_records(scene, run["metadata"]["uid"])
    assert CANARY not in operator_process.log.read_text()


def test_a_failure_and_a_budget_stop_send_one_each_and_success_only_when_asked(
    scene: Scene,
    scripted_model: ScriptedModelFactory,
    webhook: FakeServer,
    ntfy: FakeNtfy,
) -> None:
    ns = scene.namespace
    notify_policy(scene, urls=ntfy.url(f"{ns}-{CANARY}") + "\n", on=["Succeeded"])
    looping = scripted_model(turns=[call("list_k8s_pods", namespace=ns)] * 3 + [say("Done.")])
    fine = scripted_model(turns=[say("All pods are running.")])
    scene.apply(
        task("loop", model=looping, limits={"maxSteps": 1}),
        task("look", model=fine),
        taskrun("orphan-1", task_name="nowhere"),
        taskrun("loop-1", task_name="loop"),
        taskrun("look-1", task_name="look"),
    )
    for name in ("orphan-1", "loop-1"):
        scene.wait(name, condition="Succeeded=false", timeout=120)
    scene.wait("look-1", timeout=120)
    wait_until(
        lambda: (
            all(messages_about(webhook, scene, name) for name in ("orphan-1", "loop-1"))
            and len(ntfy.published) >= 1
        ),
        timeout=60,
        what="the messages",
    )

    (orphan,) = messages_about(webhook, scene, "orphan-1")
    assert orphan["title"] == f"InvalidTask: {ns}/orphan-1"
    assert orphan["message"].startswith(f"{ns}/orphan-1 (Task {ns}/nowhere): Task {ns}/nowhere")
    (budget,) = messages_about(webhook, scene, "loop-1")
    assert budget["title"] == f"LimitExceeded: {ns}/loop-1"
    assert "maxSteps 1 reached" in budget["message"]
    assert budget["type"] == "failure"
    # Success went only where it was asked for: the namespace's ntfy topic.
    assert messages_about(webhook, scene, "look-1") == []
    (success,) = [p.json() for p in ntfy.published if p.json()["topic"] == f"{ns}-{CANARY}"]
    assert success["title"] == f"Succeeded: {ns}/look-1"
    assert success["message"] == (
        f"{ns}/look-1 (Task {ns}/look): All pods are running.\n{PUBLIC_URL}/ui/#/runs/{ns}/look-1"
    )


def test_a_receiver_that_hangs_then_refuses_does_not_delay_the_run(
    scene: Scene, scripted_model: ScriptedModelFactory, gate: Gate
) -> None:
    ns = scene.namespace
    slow = f"json://127.0.0.1:{gate.server.port}/slow/{CANARY}?rto=240"
    notify_policy(scene, urls=slow + "\n", on=["AwaitingApproval"])
    tool_call_id = hold_a_delete(scene, scripted_model, name="purge")
    wait_until(lambda: len(gate.server.requests) == 1, timeout=60, what="the receiver's request")

    approve(scene, "purge-1", tool_call_id)
    # The run ends while the receiver still holds the message unanswered: a run that waited
    # for its notification would never get here.
    scene.wait("purge-1", timeout=120)
    gate.opened.set()  # now it refuses
    wait_until(
        lambda: any(reason == "NotificationFailed" for _, reason, _ in scene.events("purge-1")),
        timeout=90,
        what="the NotificationFailed Event",
    )

    failed = [e for e in scene.events("purge-1") if e[1] == "NotificationFailed"]
    assert len(failed) == 1
    kind, _, message = failed[0]
    assert kind == "Warning"
    assert message.startswith(
        f"notification of AwaitingApproval to a json receiver (Secret {ns}/mc-notify key urls) "
        "failed after 1 attempt in "
    )
    assert CANARY not in message
