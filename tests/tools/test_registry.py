"""The registry: all sixteen tools, their fixed risk, availability and schema snapshots."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mission_control.connectors import Connectors
from mission_control.connectors.errors import ConnectorUnavailable
from mission_control.connectors.prometheus import PrometheusConnector
from mission_control.errors import TemporaryError
from mission_control.settings import PrometheusSettings
from mission_control.tools.base import (
    JOURNAL_OUTPUT_LIMIT,
    RiskLevel,
    ToolContext,
    ToolOutcomeUnknown,
    ToolOutput,
)
from mission_control.tools.registry import (
    ToolRegistry,
    UnknownTool,
    default_registry,
    invoke,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("MC_UPDATE_SNAPSHOTS") == "1"

DESIGN_TABLE = {
    "list_k8s_deployments": RiskLevel.READ_ONLY,
    "get_k8s_pod_logs": RiskLevel.READ_ONLY,
    "restart_k8s_deployment": RiskLevel.SAFE_MUTATE,
    "list_proxmox_vms": RiskLevel.READ_ONLY,
    "list_proxmox_lxcs": RiskLevel.READ_ONLY,
    "restart_proxmox_lxc": RiskLevel.SAFE_MUTATE,
    "get_argocd_app_status": RiskLevel.READ_ONLY,
    "query_prometheus": RiskLevel.READ_ONLY,
    "list_k8s_pods": RiskLevel.READ_ONLY,
    "get_k8s_events": RiskLevel.READ_ONLY,
    "query_prometheus_range": RiskLevel.READ_ONLY,
    "get_inventory": RiskLevel.READ_ONLY,
    "scale_k8s_deployment": RiskLevel.SAFE_MUTATE,
    "argocd_sync_app": RiskLevel.SAFE_MUTATE,
    "argocd_rollback_app": RiskLevel.DESTRUCTIVE,
    "delete_k8s_pod": RiskLevel.DESTRUCTIVE,
}


def test_registry_holds_exactly_the_sixteen_tools_with_their_design_risk() -> None:
    registry = default_registry()
    assert {tool.name: tool.risk for tool in registry} == DESIGN_TABLE


def test_every_mutating_tool_has_a_preview_and_every_tool_a_description() -> None:
    for tool in default_registry():
        assert (tool.preview is not None) == tool.risk.mutates, tool.name
        assert len(tool.description) > 40, tool.name
        assert tool.timeout_seconds > 0


def test_unknown_tool_names_the_registered_ones() -> None:
    with pytest.raises(UnknownTool, match="unknown tool 'delete_everything'; registered tools: "):
        default_registry().get("delete_everything")


def test_duplicate_names_are_refused() -> None:
    tool = default_registry().get("get_inventory")
    with pytest.raises(ValueError, match="two tools are named get_inventory"):
        ToolRegistry([tool, tool])


def test_nothing_configured_makes_every_tool_unavailable_naming_the_setting() -> None:
    unavailable = default_registry().unavailable(Connectors())
    assert set(unavailable) == set(DESIGN_TABLE)
    assert unavailable["restart_proxmox_lxc"] == (
        "restart_proxmox_lxc needs proxmox: set PROXMOX_HOST and PROXMOX_API_TOKEN"
    )
    assert unavailable["query_prometheus"].endswith("set PROMETHEUS_URL")
    assert unavailable["argocd_sync_app"].endswith("set ARGOCD_URL and ARGOCD_TOKEN")
    assert "KUBECONFIG" in unavailable["list_k8s_pods"]
    assert default_registry().available(Connectors()) == []


async def test_a_configured_connector_makes_its_tools_available(
    unreachable_prometheus: PrometheusConnector,
) -> None:
    # Availability is about configuration, not reachability (that is the health check's job).
    connectors = Connectors(prometheus=unreachable_prometheus)
    names = [tool.name for tool in default_registry().available(connectors)]
    assert names == ["query_prometheus", "query_prometheus_range"]


@pytest.fixture
async def unreachable_prometheus() -> AsyncIterator[PrometheusConnector]:
    connector = PrometheusConnector.from_settings(PrometheusSettings(url="http://127.0.0.1:9"))
    yield connector
    await connector.aclose()


async def test_a_tool_that_overruns_its_timeout_is_stopped() -> None:
    async def slow(args: Any, ctx: ToolContext) -> ToolOutput:
        await asyncio.sleep(60)
        raise AssertionError("not reached")

    tool = dataclasses.replace(
        default_registry().get("get_inventory"), run=slow, timeout_seconds=0.05
    )
    with pytest.raises(ConnectorUnavailable, match=r"get_inventory did not finish within 0\.05s"):
        await invoke(tool, {}, ToolContext(connectors=Connectors()))


async def test_a_mutating_tool_that_overruns_its_timeout_has_an_unknown_outcome() -> None:
    async def slow(args: Any, ctx: ToolContext) -> ToolOutput:
        await asyncio.sleep(60)
        raise AssertionError("not reached")

    tool = dataclasses.replace(
        default_registry().get("restart_proxmox_lxc"), run=slow, timeout_seconds=0.05
    )
    with pytest.raises(ToolOutcomeUnknown) as caught:
        await invoke(tool, {"vmid": 101}, ToolContext(connectors=Connectors()))
    assert not isinstance(caught.value, TemporaryError)  # never retried blindly
    assert str(caught.value) == (
        "restart_proxmox_lxc did not finish within 0.05s; it may still take effect: "
        "check the container's uptime (list_proxmox_lxcs) and the node's task log before "
        "trying again"
    )


def test_the_raw_result_for_the_journal_is_kept_whole_when_small() -> None:
    raw = {"pods": [{"name": "web-0", "restarts": 3}], "when": None}
    assert ToolOutput(text="1 pod", raw=raw).for_journal() == raw


def test_the_raw_result_for_the_journal_is_bounded_with_a_visible_marker() -> None:
    raw = [{"line": "x" * 100}] * 20_000  # about 2.3 MB of JSON
    kept = ToolOutput(text="many lines", raw=raw).for_journal()
    assert len(kept["json"]) == JOURNAL_OUTPUT_LIMIT
    assert kept["json"].startswith('[{"line":"xxx')
    omitted = len(json.dumps(raw, separators=(",", ":"))) - JOURNAL_OUTPUT_LIMIT
    assert kept["truncated"] == (f"[... output truncated: {omitted} more bytes not shown ...]")


@pytest.mark.parametrize("name", sorted(DESIGN_TABLE))
def test_argument_schema_matches_its_snapshot(name: str) -> None:
    tool = default_registry().get(name)
    current = (
        json.dumps(
            {
                "name": tool.name,
                "risk": str(tool.risk),
                "description": tool.description,
                "parameters": tool.json_schema(),
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    path = SNAPSHOTS / f"{name}.json"
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(
                f"no snapshot for {name}: run with MC_UPDATE_SNAPSHOTS=1 to create {path.name}"
            )
        path.write_text(current)
    assert current == path.read_text(), f"{name} schema changed: MC_UPDATE_SNAPSHOTS=1 accepts it"
