"""A namespace's daily budget shared by concurrent runs: the overshoot stays within the bound
the README gives (the requests in flight when the limit was crossed: one per active run)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from mission_control.agent import AgentServices, drive_run
from mission_control.resources.toolpolicy import Budgets
from mission_control.runs.resolve import RunPolicy
from tests.agent.harness import RecordingReporter, ScriptedControl, run_request
from tests.agent.test_ending import looping
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.scripted_model import call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

LIMIT = 600


@dataclass
class _Usage:
    tokens: int


async def test_two_concurrent_runs_overshoot_the_daily_budget_by_at_most_their_requests_in_flight(
    services: AgentServices, agent_namespace: str, scripted_model: ScriptedModelFactory
) -> None:
    ns = agent_namespace
    policy = RunPolicy(budgets=Budgets(maxTokensPerDay=LIMIT))
    turns = [call("list_k8s_pods", namespace=ns) for _ in range(30)] + [say("Done.")]
    model = scripted_model(turns=turns)
    requests = [run_request(namespace=ns, task=looping(model), policy=policy) for _ in range(2)]

    outcomes = await asyncio.gather(
        *(
            drive_run(
                request=request,
                services=services,
                reporter=RecordingReporter(),
                control=ScriptedControl(),
            )
            for request in requests
        )
    )

    assert [o.reason for o in outcomes] == ["LimitExceeded", "LimitExceeded"]
    assert all(o.message.startswith(f"maxTokensPerDay {LIMIT} reached: ") for o in outcomes)
    rows = await services.store.db.fetch_all(
        row=_Usage,
        query="SELECT prompt_tokens + completion_tokens AS tokens FROM token_usage "
        "WHERE namespace = %s",
        params=(ns,),
        action="read the usage",
    )
    used = [row.tokens for row in rows]
    biggest = max(used)
    print(f"daily budget {LIMIT}: {sum(used)} used in {len(used)} requests, largest {biggest}")
    assert sum(used) >= LIMIT
    # Past the limit by less than one request per run that was active when it was crossed.
    assert sum(used) - LIMIT < len(requests) * biggest, (sum(used), used)
