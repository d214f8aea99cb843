"""The Argo CD connector against a fake Argo CD API server: auth, reachability, names, secrets."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from mission_control.connectors.argocd import ArgoCDConnector
from mission_control.connectors.errors import (
    ConnectorAuthError,
    ConnectorRequestError,
    ConnectorUnavailable,
)
from tests.fakes.argocd import FakeArgoCD
from tests.fixtures.fakes_tools import argocd_settings


async def test_listing_with_no_applications_accepts_null_items(
    argocd: ArgoCDConnector, fake_argocd: FakeArgoCD
) -> None:
    fake_argocd.apps.clear()
    assert await argocd.list_applications() == []


async def test_bad_token_is_an_auth_error_without_the_token(fake_argocd: FakeArgoCD) -> None:
    connector = ArgoCDConnector.from_settings(
        argocd_settings(fake_argocd, token=SecretStr("wrong-secret"))
    )
    try:
        with pytest.raises(ConnectorAuthError) as caught:
            await connector.get_application("media")
    finally:
        await connector.aclose()
    assert "ARGOCD_TOKEN" in str(caught.value)
    assert "token signature is invalid" in str(caught.value)
    assert "wrong-secret" not in str(caught.value) + repr(connector)


async def test_check_passes_with_a_valid_token(argocd: ArgoCDConnector) -> None:
    await argocd.check()


async def test_unreachable_server_is_temporary(fake_argocd: FakeArgoCD) -> None:
    with FakeArgoCD() as gone:
        url = gone.url
    connector = ArgoCDConnector.from_settings(argocd_settings(fake_argocd, url=url))
    try:
        with pytest.raises(ConnectorUnavailable, match=f"Argo CD at {url} is unreachable"):
            await connector.check()
    finally:
        await connector.aclose()


@pytest.mark.parametrize(
    "name", ["../session/userinfo", "media/../../session/userinfo", "media/sync", "", ".."]
)
async def test_the_connector_refuses_names_that_would_leave_the_application_path(
    argocd: ArgoCDConnector, fake_argocd: FakeArgoCD, name: str
) -> None:
    with pytest.raises(ConnectorRequestError, match="is not an Argo CD application name"):
        await argocd.get_application(name)
    with pytest.raises(ConnectorRequestError, match="is not an Argo CD application name"):
        await argocd.sync_application(name, revision=None, prune=False, dry_run=False)
    with pytest.raises(ConnectorRequestError, match="is not an Argo CD application name"):
        await argocd.rollback_application(name, history_id=0, prune=False, dry_run=False)
    assert fake_argocd.server.requests == []


async def test_credentials_in_the_url_stay_out_of_errors_and_repr(fake_argocd: FakeArgoCD) -> None:
    with FakeArgoCD() as gone:
        port = gone.server.port
    url = f"http://proxy-user:proxy-s3cret@127.0.0.1:{port}"
    connector = ArgoCDConnector.from_settings(argocd_settings(fake_argocd, url=url))
    try:
        with pytest.raises(ConnectorUnavailable) as caught:
            await connector.check()
    finally:
        await connector.aclose()
    shown = str(caught.value) + repr(connector)
    assert f"Argo CD at http://127.0.0.1:{port} is unreachable" in shown
    assert "proxy-s3cret" not in shown
    assert "proxy-user" not in shown
