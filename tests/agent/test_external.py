"""External systems act with the operator's credentials, so only a cluster grant opens them;
a mutation whose outcome cannot be known is recorded as such, told to the model, never redone."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from mission_control.agent import AgentServices, drive_run
from mission_control.connectors import Connectors
from mission_control.connectors.proxmox import ProxmoxConnector
from mission_control.runs.policy import ClusterPolicy, Grant
from mission_control.runs.selectors import NamespaceSelector
from mission_control.tools import ToolContext
from tests.agent.harness import RecordingReporter, ScriptedControl, run_request, tool_results
from tests.fakes.proxmox import API, FakeProxmox
from tests.fakes.server import Reply
from tests.fixtures.fakes_tools import proxmox_settings
from tests.fixtures.ollama import ScriptedModelFactory
from tests.support.pki import CertificateAuthority
from tests.support.scripted_model import call, say

pytestmark = [pytest.mark.controlplane, pytest.mark.postgres, pytest.mark.ollama]

REBOOT = API + r"/nodes/pve/lxc/101/status/reboot"
GRANT = ClusterPolicy(
    name="homelab",
    grants=(
        Grant(
            namespaces=NamespaceSelector(match_labels={"team": "infra"}),
            tools=("*_proxmox_*",),
        ),
    ),
)


@pytest.fixture
async def with_proxmox(
    services: AgentServices, fake_proxmox: FakeProxmox, test_ca: CertificateAuthority
) -> AsyncIterator[AgentServices]:
    proxmox = ProxmoxConnector.from_settings(proxmox_settings(fake_proxmox, test_ca))
    connectors = Connectors(kubernetes=services.tools.connectors.kubernetes, proxmox=proxmox)
    yield dataclasses.replace(services, tools=ToolContext(connectors=connectors))
    await proxmox.aclose()


def reboot_task(model: str) -> dict[str, object]:
    return {
        "prompt": "Reboot the dns container.",
        "tools": ["restart_proxmox_lxc"],
        "model": {"provider": "ollama", "name": model},
    }


async def test_a_namespace_not_granted_proxmox_tools_cannot_use_them(
    with_proxmox: AgentServices,
    agent_namespace: str,
    fake_proxmox: FakeProxmox,
    scripted_model: ScriptedModelFactory,
) -> None:
    model = scripted_model(turns=[call("restart_proxmox_lxc", vmid=101, node="pve"), say("No.")])
    request = run_request(
        namespace=agent_namespace,
        task=reboot_task(model),
        cluster_policies=(GRANT,),
        namespace_labels={"team": "apps"},
    )

    outcome = await drive_run(
        request=request,
        services=with_proxmox,
        reporter=RecordingReporter(),
        control=ScriptedControl(),
    )

    assert outcome.reason == "Succeeded"
    [result] = await tool_results(with_proxmox, request.uid)
    assert result.startswith(
        "denied by the cluster's ClusterToolPolicies: no ClusterToolPolicy grants tool "
        f"restart_proxmox_lxc to namespace {agent_namespace}"
    )
    assert fake_proxmox.server.requests_to("POST", REBOOT) == []


async def test_a_granted_reboot_whose_answer_is_lost_is_unknown_and_sent_once(
    with_proxmox: AgentServices,
    agent_namespace: str,
    fake_proxmox: FakeProxmox,
    scripted_model: ScriptedModelFactory,
) -> None:
    fake_proxmox.server.enqueue("POST", REBOOT, Reply(reset=True))
    model = scripted_model(
        turns=[call("restart_proxmox_lxc", vmid=101, node="pve"), say("Outcome unknown.")]
    )
    request = run_request(
        namespace=agent_namespace,
        task=reboot_task(model),
        cluster_policies=(GRANT,),
        namespace_labels={"team": "infra"},
    )

    outcome = await drive_run(
        request=request,
        services=with_proxmox,
        reporter=RecordingReporter(),
        control=ScriptedControl(),
    )

    assert outcome.reason == "Succeeded"
    assert len(fake_proxmox.server.requests_to("POST", REBOOT)) == 1
    [result] = await tool_results(with_proxmox, request.uid)
    assert "may have received the request to reboot LXC 101" in result
    [record] = await with_proxmox.store.tool_calls.for_run(request.uid)
    assert (record.status, record.error) == ("unknown", result)
    audit = await with_proxmox.store.audit.entries(run_uid=request.uid)
    unknown = [entry for entry in audit if entry.action == "tool.outcome_unknown"]
    assert [entry.outcome for entry in unknown] == ["unknown"]
