"""The notifier: in the background, once per transition across restarts, Secrets read as the
agent ServiceAccount, failures as one ``NotificationFailed`` Event naming the service.

Real control plane (Events, Secrets, RBAC, impersonation), real PostgreSQL (the send record),
Apprise for real to receivers on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.connectors.kubernetes.custom import MissionControlObjects, ObjectRef
from mission_control.connectors.notify import AppriseSender
from mission_control.handlers.notices import FAILED_EVENT, Notifier
from mission_control.runs.notify import NotifyRoute
from mission_control.store import Store
from mission_control.telemetry import OperatorMetrics
from tests.controlplane.launcher import Cluster
from tests.fakes.ntfy import FakeNtfy
from tests.fakes.server import FakeServer, Reply

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres]

CANARY = "canary5c81e2"
AGENT = "mission-control-agent"


def held(tool_call_id: str = "tc-1", risk: str = "DESTRUCTIVE") -> dict[str, Any]:
    return {
        "conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "AwaitingApproval"}],
        "pendingApproval": {
            "toolCallId": tool_call_id,
            "tool": "delete_k8s_pod",
            "risk": risk,
            "arguments": '{"namespace":"media","name":"web-0"}',
        },
    }


def ended(reason: str, message: str = "") -> dict[str, Any]:
    status = "True" if reason == "Succeeded" else "False"
    return {
        "conditions": [
            {"type": "Succeeded", "status": status, "reason": reason, "message": message}
        ],
        "pendingApproval": None,
    }


async def eventually(condition: Callable[[], bool], *, what: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def kubernetes(crds: Cluster) -> AsyncIterator[KubernetesConnector]:
    connector = KubernetesConnector.from_kubeconfig(crds.kubeconfig)
    yield connector
    await connector.aclose()


@pytest.fixture
def webhook() -> Iterator[FakeServer]:
    with FakeServer() as server:
        server.route("POST", r"/hooks/.*", lambda request, match: Reply(200, {"ok": True}))
        yield server


@pytest.fixture
def ntfy() -> Iterator[FakeNtfy]:
    with FakeNtfy() as server:
        yield server


@pytest.fixture
def run(crds: Cluster, k8s_namespace: str) -> ObjectRef:
    """A TaskRun the Events are about (no operator drives it)."""
    manifest = {
        "apiVersion": "missioncontrol.dev/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": "evict-1"},
        "spec": {"taskRef": {"name": "evict"}},
    }
    crds.kubectl("apply", "-n", k8s_namespace, "-f", "-", input=json.dumps(manifest))
    uid = crds.kubectl(
        "get", "taskrun", "evict-1", "-n", k8s_namespace, "-o", "jsonpath={.metadata.uid}"
    ).stdout
    return ObjectRef(kind="TaskRun", namespace=k8s_namespace, name="evict-1", uid=uid)


Factory = Callable[..., Notifier]


@pytest.fixture
def notifier_of(kubernetes: KubernetesConnector, store: Store) -> Factory:
    def make(**options: Any) -> Notifier:
        options.setdefault("metrics", OperatorMetrics(registry=CollectorRegistry()))
        return Notifier(
            sender=AppriseSender(timeout_seconds=10),
            store=store,
            objects=MissionControlObjects(kubernetes, instance="test"),
            kubernetes=kubernetes,
            agent_account=AGENT,
            **options,
        )

    return make


def events(crds: Cluster, run: ObjectRef) -> list[dict[str, Any]]:
    listed = json.loads(
        crds.kubectl(
            "get", "events", "-n", run.namespace, "-o", "json",
            "--field-selector", f"involvedObject.name={run.name}",
        ).stdout
    )  # fmt: skip
    return list(listed["items"])


def grant_secret(crds: Cluster, namespace: str, *, secret: str, urls: str) -> None:
    """The Secret, and the agent ServiceAccount allowed to get exactly it."""
    manifests = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": AGENT}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret},
            "data": {"urls": base64.b64encode(urls.encode()).decode()},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "read-notify"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "verbs": ["get"],
                    "resourceNames": [secret],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "read-notify"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "read-notify",
            },
            "subjects": [{"kind": "ServiceAccount", "name": AGENT, "namespace": namespace}],
        },
    ]
    crds.kubectl(
        "apply", "-n", namespace, "-f", "-",
        input="\n---\n".join(json.dumps(m) for m in manifests),
    )  # fmt: skip


async def test_a_held_call_is_sent_once_even_by_the_operator_after_a_restart(
    notifier_of: Factory,
    run: ObjectRef,
    webhook: FakeServer,
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"json://127.0.0.1:{webhook.port}/hooks/{CANARY}"
    caplog.set_level(logging.INFO, logger="mission_control.handlers.notices")
    first = notifier_of(operator_urls=[url], public_url="https://mc.example.lan")
    async with first.running():
        notices = first.for_run(about=run, task=f"{run.namespace}/evict")
        notices.observe(held())
        notices.observe(held())  # the same transition patched again: one message
        await eventually(lambda: len(webhook.requests) == 1, what="the message")
    restarted = notifier_of(operator_urls=[url])
    async with restarted.running():
        restarted.for_run(about=run, task=f"{run.namespace}/evict").observe(held())
        await eventually(lambda: "was sent before; not again" in caplog.text, what="the check")

    (request,) = webhook.requests
    body = request.json()["message"]
    assert f"Approve: kubectl mc approve evict-1 -n {run.namespace} --tool-call tc-1" in body
    assert f"Reject: kubectl mc reject evict-1 -n {run.namespace} --tool-call tc-1" in body
    assert f"https://mc.example.lan/ui/#/runs/{run.namespace}/evict-1" in body
    outcome = await store.notifications.outcome(
        run_uid=run.uid, transition="AwaitingApproval", tool_call_id="tc-1"
    )
    assert outcome == "sent"
    assert CANARY not in caplog.text


async def test_a_message_under_way_when_the_operator_stops_is_finished_and_recorded(
    notifier_of: Factory, run: ObjectRef, store: Store
) -> None:
    with FakeServer() as slow:
        slow.route("POST", r"/hooks/.*", lambda request, match: Reply(200, {}, delay=1.0))
        notifier = notifier_of(operator_urls=[f"json://127.0.0.1:{slow.port}/hooks/x"])
        async with notifier.running():
            notifier.for_run(about=run, task=f"{run.namespace}/evict").observe(held())
            # The receiver has the message and answers a second later; the operator stops.
            await eventually(lambda: len(slow.requests) == 1, what="the message")

    outcome = await store.notifications.outcome(
        run_uid=run.uid, transition="AwaitingApproval", tool_call_id="tc-1"
    )
    assert outcome == "sent"


async def test_the_namespace_secret_is_read_as_the_agent_and_success_only_when_asked(
    crds: Cluster,
    notifier_of: Factory,
    run: ObjectRef,
    ntfy: FakeNtfy,
    webhook: FakeServer,
) -> None:
    grant_secret(crds, run.namespace, secret="mc-notify", urls=f"# ops\n{ntfy.url(CANARY)}\n")
    asks = NotifyRoute(
        namespace=run.namespace,
        secret_name="mc-notify",
        secret_key="urls",
        on=frozenset({"Succeeded"}),
    )
    operator_wide = f"json://127.0.0.1:{webhook.port}/hooks/{CANARY}"  # default: no Succeeded
    notifier = notifier_of(operator_urls=[operator_wide])
    async with notifier.running():
        notices = notifier.for_run(about=run, task="")
        notices.routes, notices.run_account = (asks,), AGENT
        notices.observe(ended("Succeeded", "Deleted stale-0."))
        await eventually(lambda: len(ntfy.published) == 1, what="the ntfy message")

    (request,) = ntfy.published
    assert request.json() == {
        "topic": CANARY,
        "title": f"Succeeded: {run.namespace}/evict-1",
        "message": f"{run.namespace}/evict-1 (inline Task): Deleted stale-0.",
    }
    assert request.headers["x-tags"] == "mission-control,white_check_mark"
    assert webhook.requests == []


async def test_a_secret_the_agent_may_not_read_is_one_event_saying_what_to_grant(
    crds: Cluster, notifier_of: Factory, run: ObjectRef
) -> None:
    crds.kubectl("create", "serviceaccount", AGENT, "-n", run.namespace)
    route = NotifyRoute(namespace=run.namespace, secret_name="hidden", secret_key="urls")
    notifier = notifier_of()
    async with notifier.running():
        notices = notifier.for_run(about=run, task="")
        notices.routes, notices.run_account = (route,), AGENT
        notices.observe(ended("LimitExceeded", "maxTokens 1 reached"))
        await eventually(
            lambda: any(e["reason"] == FAILED_EVENT for e in events(crds, run)), what="the Event"
        )

    (event,) = [e for e in events(crds, run) if e["reason"] == FAILED_EVENT]
    assert event["type"] == "Warning"
    assert event["message"].startswith(
        f"notification of LimitExceeded not sent to the receivers of Secret "
        f"{run.namespace}/hidden key urls: it cannot be read as "
        f"system:serviceaccount:{run.namespace}:{AGENT}"
    )
    assert "grant that ServiceAccount get on the Secret" in event["message"]


async def test_a_refusing_receiver_is_retried_then_one_event_names_the_service(
    crds: Cluster, notifier_of: Factory, run: ObjectRef, ntfy: FakeNtfy
) -> None:
    ntfy.refuse = True
    metrics = OperatorMetrics(registry=CollectorRegistry())
    notifier = notifier_of(
        operator_urls=[ntfy.url(f"ops-{CANARY}", token=f"tk_{CANARY}")],
        metrics=metrics,
        retry_seconds=6,  # attempts at about 0, 1 and 3 s
    )
    async with notifier.running():
        notifier.for_run(about=run, task="").observe(ended("Failed", "the model gave up"))
        await eventually(
            lambda: any(e["reason"] == FAILED_EVENT for e in events(crds, run)), what="the Event"
        )

    (event,) = [e for e in events(crds, run) if e["reason"] == FAILED_EVENT]
    said = re.match(
        r"notification of Failed to a ntfy receiver \(MC_NOTIFY_URLS_FILE\) failed after "
        r"(\d+) attempts in \d+s: the ntfy receiver did not accept the message",
        event["message"],
    )
    assert said is not None, event["message"]
    assert int(said.group(1)) == len(ntfy.published) >= 2  # retried, each attempt counted
    assert CANARY not in json.dumps(event)
    failed = metrics.registry.get_sample_value(
        "mission_control_notifications_total", {"outcome": "failed"}
    )
    assert failed == 1


async def test_a_full_queue_drops_the_notice_without_waiting(
    notifier_of: Factory, run: ObjectRef, webhook: FakeServer
) -> None:
    metrics = OperatorMetrics(registry=CollectorRegistry())
    url = f"json://127.0.0.1:{webhook.port}/hooks/x"
    notifier = notifier_of(operator_urls=[url], metrics=metrics, queue_size=1)
    notices = notifier.for_run(about=run, task="")

    notices.observe(held("tc-1"))  # queued: the worker is not running
    notices.observe(held("tc-2"))  # the queue is full

    dropped = metrics.registry.get_sample_value(
        "mission_control_notifications_total", {"outcome": "dropped"}
    )
    assert dropped == 1


async def test_a_cluster_route_hears_held_destructive_calls_only(
    crds: Cluster, notifier_of: Factory, run: ObjectRef, ntfy: FakeNtfy, store: Store
) -> None:
    # The Secret lives in its own namespace here, read as that namespace's agent.
    grant_secret(crds, run.namespace, secret="pager", urls=ntfy.url(f"sre-{CANARY}"))
    cluster = NotifyRoute(
        namespace=run.namespace,
        secret_name="pager",
        secret_key="urls",
        on=frozenset({"AwaitingApproval"}),
        destructive_holds_only=True,
    )
    notifier = notifier_of()
    async with notifier.running():
        notices = notifier.for_run(about=run, task="")
        notices.routes, notices.run_account = (cluster,), "some-other-account"
        notices.observe(held("tc-1", risk="SAFE_MUTATE"))
        notices.observe(held("tc-2", risk="DESTRUCTIVE"))
        await eventually(lambda: len(ntfy.published) == 1, what="the page")

    (page,) = ntfy.published
    assert page.json()["topic"] == f"sre-{CANARY}"
    assert "--tool-call tc-2" in page.json()["message"]
    safe = await store.notifications.outcome(
        run_uid=run.uid, transition="AwaitingApproval", tool_call_id="tc-1"
    )
    assert safe is None  # never queued: nobody asked to hear of it
