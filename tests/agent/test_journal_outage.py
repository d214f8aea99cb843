"""A run waits for its journal instead of acting unrecorded, and carries on when it is back.

The proxy lets a write reach PostgreSQL and commit, then breaks the connection before the
reply: the loop sees ``JournalUnavailable`` for a write that happened, shows
``WaitingForJournal``, writes again (keyed, so it lands once) and goes on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from mission_control.agent import AgentServices, drive_run
from mission_control.store import Store
from tests.agent.harness import RecordingReporter, ScriptedControl, run_request
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.pgproxy import AckDroppingProxy, ack_dropping_proxy
from tests.support.scripted_model import call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]


@pytest.fixture
async def proxied(
    services: AgentServices, database_url: str
) -> AsyncIterator[tuple[AgentServices, AckDroppingProxy]]:
    async with (
        ack_dropping_proxy(database_url) as proxy,
        Store.open(proxy.url(database_url), max_size=4) as store,
    ):
        yield dataclasses.replace(services, store=store), proxy


async def count(store: Store, query: str, run_uid: str) -> int:
    value = await store.db.fetch_value(query=query, params=(run_uid,), action="count")
    return int(value)


@pytest.mark.parametrize(
    ("marker", "table"),
    [(b"llm_requests", "llm_requests"), (b"tool_call_records", "tool_call_records")],
)
async def test_a_lost_acknowledgement_makes_the_run_wait_then_go_on_writing_once(
    proxied: tuple[AgentServices, AckDroppingProxy],
    agent_namespace: str,
    scripted_model: ScriptedModelFactory,
    marker: bytes,
    table: str,
) -> None:
    services, proxy = proxied
    ns = agent_namespace
    model = scripted_model(turns=[call("list_k8s_pods", namespace=ns), say("No pods.")])
    task = {"prompt": "Check.", "tools": ["list_k8s_pods"],
            "model": {"provider": "ollama", "name": model}}  # fmt: skip
    request = run_request(namespace=ns, task=task)
    reporter = RecordingReporter()
    proxy.drop_reply_to(marker)

    outcome = await drive_run(
        request=request, services=services, reporter=reporter, control=ScriptedControl()
    )

    assert proxy.dropped == 1
    assert outcome.reason == "Succeeded"
    waited = reporter.reasons.index("WaitingForJournal")
    assert reporter.reasons[waited + 1] == "Running"
    assert reporter.patches[waited]["conditions"][0]["message"].startswith(
        "waiting for PostgreSQL, the run's journal: "
    )
    assert reporter.event_reasons() == ["Started", "Succeeded"]
    rows = await count(
        services.store, f"SELECT count(*) FROM {table} WHERE run_uid = %s", request.uid
    )
    assert rows == (2 if table == "llm_requests" else 1)
