"""Risk is decided in code from a call's arguments, never by the model.

``argocd_sync_app`` of the application's own target revision without prune is SAFE_MUTATE;
another revision or ``prune: true`` makes the call DESTRUCTIVE, so the default policy holds it
for approval.
"""

from __future__ import annotations

from typing import Any

import pytest

from mission_control.connectors.argocd import ArgoCDConnector
from mission_control.runs.policy import (
    ClusterPolicy,
    Grant,
    NamespacePolicy,
    NamespaceSelector,
    RunScope,
    ToolCall,
    decide,
)
from mission_control.tools.base import RiskLevel
from mission_control.tools.registry import call_risk, default_registry
from tests.fakes.argocd import FakeArgoCD
from tests.tools.helpers import context_with

SYNC = "argocd_sync_app"


@pytest.mark.parametrize(
    ("arguments", "risk"),
    [
        ({"name": "media"}, RiskLevel.SAFE_MUTATE),
        ({"name": "media", "revision": "main"}, RiskLevel.SAFE_MUTATE),  # its own target
        ({"name": "media", "revision": "HEAD"}, RiskLevel.DESTRUCTIVE),
        ({"name": "media", "revision": "1111111111111111111111111111111111111111"}, "DESTRUCTIVE"),
        ({"name": "media", "prune": True}, RiskLevel.DESTRUCTIVE),
        ({"name": "media", "revision": "main", "prune": True}, RiskLevel.DESTRUCTIVE),
        ({"name": "media", "prune": False}, RiskLevel.SAFE_MUTATE),
    ],
)
async def test_the_risk_of_a_sync_follows_its_arguments(
    argocd: ArgoCDConnector, fake_argocd: FakeArgoCD, arguments: dict[str, Any], risk: str
) -> None:
    tool = default_registry().get(SYNC)
    assert await call_risk(tool, arguments, context_with(argocd=argocd)) == risk
    assert fake_argocd.server.requests_to("POST", r".*/sync") == []  # assessing never syncs


async def test_a_sync_to_another_revision_is_held_for_approval_by_default(
    argocd: ArgoCDConnector,
) -> None:
    tool = default_registry().get(SYNC)
    scope = RunScope(namespace="ops", task="ops/deploy", task_tools=frozenset({SYNC}))
    cluster = [
        ClusterPolicy(
            name="argocd",
            grants=(Grant(namespaces=NamespaceSelector(), tools=(SYNC,)),),
        )
    ]
    verdicts = []
    for arguments in ({"name": "media"}, {"name": "media", "revision": "evil-branch"}):
        risk = await call_risk(tool, arguments, context_with(argocd=argocd))
        call = ToolCall(tool=SYNC, risk=risk.value, family="argocd", arguments=arguments)
        decision = decide(call, scope=scope, policy=NamespacePolicy(), cluster=cluster)
        verdicts.append(decision.verdict)
    assert verdicts == ["Allow", "RequireApproval"]


async def test_tools_without_argument_dependent_risk_keep_their_fixed_risk(
    argocd: ArgoCDConnector,
) -> None:
    tool = default_registry().get("argocd_rollback_app")
    risk = await call_risk(tool, {"name": "media", "history_id": 0}, context_with(argocd=argocd))
    assert risk is RiskLevel.DESTRUCTIVE
