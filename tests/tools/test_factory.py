"""Building connectors from settings: only what is configured, half a pair is an error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mission_control.connectors import Connectors
from mission_control.errors import ConfigError
from mission_control.settings import load_settings
from mission_control.wiring import build_connectors

TOKEN = "mission-control@pve!mc=11111111-2222-3333-4444-555555555555"


@pytest.fixture
async def built() -> AsyncIterator[Connectors]:
    env = {
        "PROXMOX_HOST": "pve.lan:8006",
        "PROXMOX_API_TOKEN": TOKEN,
        "PROMETHEUS_URL": "http://prometheus.lan:9090",
    }
    connectors = build_connectors(load_settings(env), in_cluster=False)
    yield connectors
    if connectors.prometheus is not None:
        await connectors.prometheus.aclose()


async def test_only_configured_connectors_are_built(built: Connectors) -> None:
    assert built.proxmox is not None
    assert built.prometheus is not None
    assert (built.kubernetes, built.argocd) == (None, None)
    assert built.inventory is not None
    assert "11111111" not in repr(built)


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
        build_connectors(load_settings(env), in_cluster=False)
