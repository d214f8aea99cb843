"""A step's journal, usage and audit writes are committed together: few transactions per step.

PostgreSQL gives every transaction that writes a transaction id from one counter; the ids a
run consumed are its write transactions (reading the counter takes one more id).
"""

from __future__ import annotations

import psycopg
import pytest

from mission_control.agent import AgentServices, drive_run
from tests.agent.harness import RecordingReporter, ScriptedControl, run_request
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import Turn, call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

#: A step with one allowed read-only call: the request before it is sent; the answer (response,
#: usage, event); the decision, intent and start before the call; outcome, audit and result.
WRITE_TRANSACTIONS_PER_TOOL_STEP = 4


def next_transaction_id(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
    assert row is not None
    return int(row[0])


async def write_transactions(
    services: AgentServices, *, database_url: str, namespace: str, model: str
) -> int:
    task = {"prompt": "Check.", "tools": ["list_k8s_pods"],
            "model": {"provider": "ollama", "name": model}}  # fmt: skip
    before = next_transaction_id(database_url)
    outcome = await drive_run(
        request=run_request(namespace=namespace, task=task),
        services=services,
        reporter=RecordingReporter(),
        control=ScriptedControl(),
    )
    after = next_transaction_id(database_url)
    assert outcome.reason == "Succeeded"
    return after - before - 1


async def test_a_tool_step_costs_a_few_write_transactions(
    services: AgentServices,
    database_url: str,
    agent_namespace: str,
    scripted_model: ScriptedModelFactory,
) -> None:
    ns = agent_namespace

    def turns(steps: int) -> list[Turn]:
        return [*(call("list_k8s_pods", namespace=ns) for _ in range(steps)), say("No pods.")]

    one = await write_transactions(
        services, database_url=database_url, namespace=ns, model=scripted_model(turns=turns(1))
    )
    three = await write_transactions(
        services, database_url=database_url, namespace=ns, model=scripted_model(turns=turns(3))
    )

    assert (three - one) / 2 <= WRITE_TRANSACTIONS_PER_TOOL_STEP
