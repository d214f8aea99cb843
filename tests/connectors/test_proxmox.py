"""The Proxmox VE connector against the HTTPS double: requests, auth, certificates, names."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from mission_control.connectors.errors import (
    ConnectorAuthError,
    ConnectorRequestError,
    ConnectorUnavailable,
)
from mission_control.connectors.proxmox import ProxmoxConnector
from tests.fakes.proxmox import FakeProxmox
from tests.fixtures.fakes_tools import proxmox_settings
from tests.support.pki import CertificateAuthority


async def test_guests_are_listed_with_one_cluster_wide_request(
    proxmox: ProxmoxConnector, fake_proxmox: FakeProxmox
) -> None:
    guests = await proxmox.list_guests("lxc")
    assert [(g.vmid, g.node, g.tags) for g in guests] == [
        (101, "pve", ("infra", "dns")),
        (103, "pve2", ()),
        (104, "pve2", ()),
    ]
    [request] = fake_proxmox.server.requests_to("GET", "/api2/json/cluster/resources")
    assert request.query == {"type": ["vm"]}


async def test_every_request_carries_the_api_token_header(
    proxmox: ProxmoxConnector, fake_proxmox: FakeProxmox
) -> None:
    await proxmox.check()
    [request] = fake_proxmox.server.requests
    assert request.headers["authorization"] == f"PVEAPIToken={fake_proxmox.token}"


async def test_bad_token_is_an_auth_error_without_the_secret(
    fake_proxmox: FakeProxmox, test_ca: CertificateAuthority
) -> None:
    secret = "99999999-dead-beef-0000-000000000000"
    settings = proxmox_settings(
        fake_proxmox, test_ca, api_token=SecretStr(f"mission-control@pve!mc={secret}")
    )
    connector = ProxmoxConnector.from_settings(settings)
    with pytest.raises(ConnectorAuthError) as caught:
        await connector.check()
    message = str(caught.value)
    assert "PROXMOX_API_TOKEN" in message
    assert "401" in message
    assert secret not in message
    assert secret not in repr(connector)


async def test_untrusted_certificate_is_reported_with_the_fix(
    fake_proxmox: FakeProxmox, test_ca: CertificateAuthority
) -> None:
    connector = ProxmoxConnector.from_settings(
        proxmox_settings(fake_proxmox, test_ca, ca_file=None)
    )
    with pytest.raises(ConnectorUnavailable, match=r"TLS verification failed.*PROXMOX_CA_FILE"):
        await connector.check()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
async def test_verification_can_be_turned_off(
    fake_proxmox: FakeProxmox, test_ca: CertificateAuthority
) -> None:
    settings = proxmox_settings(fake_proxmox, test_ca, ca_file=None, verify_tls=False)
    connector = ProxmoxConnector.from_settings(settings)
    await connector.check()


async def test_unreachable_host_is_temporary_and_named(test_ca: CertificateAuthority) -> None:
    with FakeProxmox(
        certfile=test_ca.serving("gone").cert, keyfile=test_ca.serving("gone").key
    ) as gone:
        host = gone.host
    settings = proxmox_settings(gone, test_ca, host=host)
    connector = ProxmoxConnector.from_settings(settings)
    with pytest.raises(ConnectorUnavailable, match=f"Proxmox VE at {host} is unreachable"):
        await connector.list_nodes()


@pytest.mark.parametrize("node", ["pve/../../access/users", "pve/lxc", "", "..", "pve?x=1"])
async def test_the_connector_refuses_node_names_that_would_change_the_url_path(
    proxmox: ProxmoxConnector, fake_proxmox: FakeProxmox, node: str
) -> None:
    with pytest.raises(ConnectorRequestError, match="is not a Proxmox VE node name"):
        await proxmox.reboot_lxc(node=node, vmid=101)
    with pytest.raises(ConnectorRequestError, match="is not a Proxmox VE node name"):
        await proxmox.find_lxc(node=node, vmid=101)
    assert fake_proxmox.server.requests == []


async def test_the_connector_refuses_guest_ids_proxmox_cannot_have(
    proxmox: ProxmoxConnector, fake_proxmox: FakeProxmox
) -> None:
    with pytest.raises(ConnectorRequestError, match="is not a Proxmox VE guest id"):
        await proxmox.reboot_lxc(node="pve", vmid=5)
    assert fake_proxmox.server.requests == []
