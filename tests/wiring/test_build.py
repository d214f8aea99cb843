"""Building connectors and the tool context from settings: only what is configured."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mission_control.connectors import Connectors
from mission_control.errors import ConfigError
from mission_control.settings import load_settings
from mission_control.tools.base import ToolContext
from mission_control.wiring import build_connectors, build_tool_context

TOKEN = "mission-control@pve!mc=11111111-2222-3333-4444-555555555555"


@pytest.fixture
async def built() -> AsyncIterator[ToolContext]:
    env = {
        "PROXMOX_HOST": "pve.lan:8006",
        "PROXMOX_API_TOKEN": TOKEN,
        "PROMETHEUS_URL": "http://prometheus.lan:9090",
    }
    context = build_tool_context(load_settings(env), in_cluster=False)
    yield context
    await context.connectors.aclose()


async def test_only_configured_connectors_are_built(built: ToolContext) -> None:
    connectors = built.connectors
    assert connectors.proxmox is not None
    assert connectors.prometheus is not None
    assert (connectors.kubernetes, connectors.argocd) == (None, None)
    assert built.inventory is not None
    assert "11111111" not in repr(built)


def test_no_inventory_source_builds_no_inventory() -> None:
    context = build_tool_context(load_settings({}), in_cluster=False)
    assert context.inventory is None


def test_nothing_configured_builds_nothing() -> None:
    assert build_connectors(load_settings({}), in_cluster=False) == Connectors()


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"PROXMOX_HOST": "pve.lan"}, "PROXMOX_API_TOKEN: required when PROXMOX_HOST is set"),
        ({"ARGOCD_TOKEN": "t"}, "ARGOCD_URL: required when ARGOCD_TOKEN is set"),
    ],
)
def test_half_a_configuration_names_the_missing_variable(env: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigError, match=missing):
        build_connectors(load_settings(env), in_cluster=False)


def test_a_broken_metadata_file_fails_at_start_up() -> None:
    env = {
        "PROMETHEUS_URL": "http://prometheus.lan:9090",
        "MC_INVENTORY_METADATA_FILE": "/nonexistent/inventory.yaml",
    }
    with pytest.raises(ConfigError, match="MC_INVENTORY_METADATA_FILE"):
        build_tool_context(load_settings(env), in_cluster=False)
