"""Argo CD tools against a fake Argo CD API server (the connector: tests/connectors/)."""

from __future__ import annotations

import pytest

from mission_control.connectors.argocd import ArgoCDConnector
from mission_control.connectors.errors import (
    ConnectorForbidden,
    ConnectorNotConfigured,
    ConnectorRequestError,
)
from mission_control.tools.base import InvalidToolArguments
from mission_control.tools.registry import default_registry, invoke, preview
from tests.fakes.argocd import FakeArgoCD
from tests.tools.helpers import context_with


async def test_status_shows_sync_health_conditions_operation_and_history(
    argocd: ArgoCDConnector,
) -> None:
    output = await invoke(
        default_registry().get("get_argocd_app_status"),
        {"name": "media"},
        context_with(argocd=argocd),
    )
    lines = output.text.splitlines()
    assert lines[0] == "application: media  project: default"
    assert lines[3] == "sync: OutOfSync  revision: 4f3c2a1b  auto-sync: off"
    assert lines[4] == "health: Degraded"
    assert "  SyncError 2024-05-10T09:59:30Z: one or more objects failed to apply" in lines
    assert any(line.startswith("last operation: Succeeded revision 4f3c2a1b") for line in lines)
    history = lines[lines.index("history (newest first; a rollback names the ID):") + 1 :]
    assert [row.split()[:2] for row in history] == [
        ["ID", "REVISION"],
        ["1", "22222222"],
        ["0", "11111111"],
    ]
    assert output.raw["sync_status"] == "OutOfSync"


async def test_missing_application_says_it_may_not_exist_or_be_forbidden(
    argocd: ArgoCDConnector,
) -> None:
    with pytest.raises(ConnectorForbidden) as caught:
        await argocd.get_application("nope")
    message = str(caught.value)
    assert "permission denied" in message
    assert "may not exist" in message
    assert "lacks permission" in message
    assert argocd.url in message


async def test_sync_posts_the_sync_request_and_reports_it_started(
    argocd: ArgoCDConnector, fake_argocd: FakeArgoCD
) -> None:
    tool = default_registry().get("argocd_sync_app")
    output = await invoke(
        tool, {"name": "media", "revision": "v1.2.0", "prune": True}, context_with(argocd=argocd)
    )
    [request] = fake_argocd.server.requests_to("POST", "/api/v1/applications/media/sync")
    assert request.json() == {"name": "media", "prune": True, "dryRun": False, "revision": "v1.2.0"}
    assert output.text.startswith(
        "sync of application media requested (revision v1.2.0, prune true)"
    )
    assert fake_argocd.apps["media"]["operation"]["sync"]["revision"] == "v1.2.0"


async def test_sync_while_an_operation_runs_hands_back_argo_message(
    argocd: ArgoCDConnector, fake_argocd: FakeArgoCD
) -> None:
    fake_argocd.apps["media"]["operation"] = {"sync": {}}
    with pytest.raises(ConnectorRequestError, match="another operation is already in progress"):
        await argocd.sync_application("media", revision=None, prune=False, dry_run=False)


async def test_sync_preview_reads_but_does_not_sync(
    argocd: ArgoCDConnector, fake_argocd: FakeArgoCD
) -> None:
    text = await preview(
        default_registry().get("argocd_sync_app"), {"name": "media"}, context_with(argocd=argocd)
    )
    assert text == (
        "would sync application media to main (prune false): "
        "now OutOfSync at 4f3c2a1b, health Degraded"
    )
    assert fake_argocd.server.requests_to("POST", ".*") == []


async def test_rollback_posts_the_history_id(
    argocd: ArgoCDConnector, fake_argocd: FakeArgoCD
) -> None:
    tool = default_registry().get("argocd_rollback_app")
    output = await invoke(tool, {"name": "media", "history_id": 0}, context_with(argocd=argocd))
    [request] = fake_argocd.server.requests_to("POST", "/api/v1/applications/media/rollback")
    assert request.json() == {"name": "media", "id": 0, "prune": False, "dryRun": False}
    assert "rollback of application media to history id 0 requested" in output.text


async def test_rollback_with_auto_sync_is_refused_with_argo_reason(argocd: ArgoCDConnector) -> None:
    with pytest.raises(
        ConnectorRequestError, match="rollback cannot be initiated when auto-sync is enabled"
    ):
        await argocd.rollback_application("monitoring", history_id=0, prune=False, dry_run=False)


async def test_rollback_preview_names_target_revision_and_warns_of_auto_sync(
    argocd: ArgoCDConnector, fake_argocd: FakeArgoCD
) -> None:
    tool = default_registry().get("argocd_rollback_app")
    text = await preview(tool, {"name": "media", "history_id": 0}, context_with(argocd=argocd))
    assert text == (
        "would roll back application media from 4f3c2a1b to history id 0 "
        "(revision 11111111, deployed 2024-05-01T10:00:00Z), prune false"
    )
    auto = await preview(tool, {"name": "monitoring", "history_id": 0}, context_with(argocd=argocd))
    assert "auto-sync is on, so Argo CD would refuse" in auto
    unknown = await preview(tool, {"name": "media", "history_id": 7}, context_with(argocd=argocd))
    assert unknown == "would fail: application media has no history id 7 (known ids: 0, 1)"
    assert fake_argocd.server.requests_to("POST", ".*") == []


async def test_invalid_application_names_are_rejected_before_any_request(
    argocd: ArgoCDConnector, fake_argocd: FakeArgoCD
) -> None:
    tool = default_registry().get("argocd_rollback_app")
    with pytest.raises(InvalidToolArguments) as caught:
        await invoke(
            tool, {"name": "../../settings", "history_id": -1}, context_with(argocd=argocd)
        )
    assert [p.split(":")[0] for p in caught.value.problems] == ["name", "history_id"]
    assert fake_argocd.server.requests == []


async def test_tools_without_argocd_configured_name_the_settings() -> None:
    with pytest.raises(ConnectorNotConfigured, match="ARGOCD_URL and ARGOCD_TOKEN"):
        await invoke(
            default_registry().get("get_argocd_app_status"),
            {"name": "x"},
            context_with(argocd=None),
        )
