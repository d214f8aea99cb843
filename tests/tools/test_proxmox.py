"""Proxmox VE tools through proxmoxer against the HTTPS double (connector: tests/connectors/)."""

from __future__ import annotations

import pytest

from mission_control.connectors.errors import (
    ConnectorForbidden,
    ConnectorNotConfigured,
    ConnectorNotFound,
    ConnectorRequestError,
)
from mission_control.connectors.proxmox import ProxmoxConnector
from mission_control.tools.base import InvalidToolArguments
from mission_control.tools.registry import default_registry, invoke, preview
from tests.fakes.proxmox import FakeProxmox
from tests.tools.helpers import context_with


async def test_listing_vms_shows_qemu_guests_of_every_node(proxmox: ProxmoxConnector) -> None:
    tool = default_registry().get("list_proxmox_vms")
    output = await invoke(tool, {}, context_with(proxmox=proxmox))
    lines = output.text.splitlines()
    assert lines[0].split() == ["VMID", "NAME", "NODE", "STATUS", "CPU", "MEMORY", "UPTIME"]
    assert lines[1].split() == [
        "100",
        "opnsense",
        "pve",
        "running",
        "2.0%",
        "of",
        "4",
        "512.0MiB/2.0GiB",
        "3d4h",
    ]
    assert lines[2].split()[:4] == ["102", "win11", "pve2", "stopped"]
    assert len(lines) == 3
    assert [row["vmid"] for row in output.raw] == [100, 102]


async def test_listing_lxcs_filters_by_node_and_status(proxmox: ProxmoxConnector) -> None:
    tool = default_registry().get("list_proxmox_lxcs")
    output = await invoke(
        tool, {"node": "pve2", "status": "running"}, context_with(proxmox=proxmox)
    )
    assert [row["vmid"] for row in output.raw] == [103]
    empty = await invoke(
        tool, {"name_contains": "nothing-like-this"}, context_with(proxmox=proxmox)
    )
    assert empty.text == "no LXC containers match"


async def test_restart_reboots_the_lxc_and_returns_the_task_id(
    proxmox: ProxmoxConnector, fake_proxmox: FakeProxmox
) -> None:
    tool = default_registry().get("restart_proxmox_lxc")
    output = await invoke(tool, {"vmid": 101}, context_with(proxmox=proxmox))
    upid = output.raw["upid"]
    assert upid.startswith("UPID:pve:")
    assert ":vzreboot:101:" in upid
    assert output.text == f"reboot of LXC 101 (dns) on node pve started; Proxmox task id {upid}"
    [reboot] = fake_proxmox.server.requests_to(
        "POST", r"/api2/json/nodes/pve/lxc/101/status/reboot"
    )
    assert reboot.form() == {}


async def test_restart_with_a_node_goes_straight_to_that_node(
    proxmox: ProxmoxConnector, fake_proxmox: FakeProxmox
) -> None:
    tool = default_registry().get("restart_proxmox_lxc")
    output = await invoke(tool, {"vmid": 103, "node": "pve2"}, context_with(proxmox=proxmox))
    assert output.raw["node"] == "pve2"
    assert fake_proxmox.server.requests_to("GET", "/api2/json/cluster/resources") == []


async def test_preview_says_what_would_be_rebooted_without_rebooting(
    proxmox: ProxmoxConnector, fake_proxmox: FakeProxmox
) -> None:
    tool = default_registry().get("restart_proxmox_lxc")
    text = await preview(tool, {"vmid": 101, "node": "pve"}, context_with(proxmox=proxmox))
    assert text == "would reboot LXC 101 (dns) on node pve: now running, up 3d4h"
    stopped = await preview(tool, {"vmid": 104}, context_with(proxmox=proxmox))
    assert "now stopped" in stopped
    assert "would fail" in stopped
    assert fake_proxmox.server.requests_to("POST", ".*") == []


async def test_unknown_vmid_on_a_node_is_not_found_with_proxmox_reason(
    proxmox: ProxmoxConnector,
) -> None:
    tool = default_registry().get("restart_proxmox_lxc")
    with pytest.raises(ConnectorNotFound) as caught:
        await invoke(tool, {"vmid": 999, "node": "pve"}, context_with(proxmox=proxmox))
    assert "Configuration file 'nodes/pve/lxc/999.conf' does not exist" in str(caught.value)
    assert proxmox.host in str(caught.value)


async def test_unknown_vmid_anywhere_is_not_found(proxmox: ProxmoxConnector) -> None:
    with pytest.raises(ConnectorNotFound, match="has no LXC container 999"):
        await proxmox.find_lxc(vmid=999, node=None)


async def test_rebooting_a_stopped_container_reports_proxmox_refusal(
    proxmox: ProxmoxConnector,
) -> None:
    with pytest.raises(
        ConnectorRequestError, match=r"refused to reboot LXC 104 .*CT 104 not running"
    ):
        await proxmox.reboot_lxc(node="pve2", vmid=104)


async def test_missing_privilege_is_forbidden_and_names_it(
    proxmox: ProxmoxConnector, fake_proxmox: FakeProxmox
) -> None:
    fake_proxmox.forbidden[101] = "VM.PowerMgmt"
    with pytest.raises(
        ConnectorForbidden, match=r"Permission check failed \(/vms/101, VM.PowerMgmt\)"
    ):
        await proxmox.reboot_lxc(node="pve", vmid=101)


async def test_invalid_arguments_are_rejected_before_any_request(
    proxmox: ProxmoxConnector, fake_proxmox: FakeProxmox
) -> None:
    tool = default_registry().get("restart_proxmox_lxc")
    with pytest.raises(InvalidToolArguments) as caught:
        await invoke(
            tool, {"vmid": 5, "node": "../etc", "force": True}, context_with(proxmox=proxmox)
        )
    problems = "; ".join(caught.value.problems)
    assert "vmid:" in problems
    assert "node:" in problems
    assert "force:" in problems
    assert fake_proxmox.server.requests == []


async def test_tools_without_proxmox_configured_name_the_settings() -> None:
    tool = default_registry().get("list_proxmox_vms")
    with pytest.raises(ConnectorNotConfigured, match="PROXMOX_HOST and PROXMOX_API_TOKEN"):
        await invoke(tool, {}, context_with(proxmox=None))
