"""Notifications through Apprise for real, to receivers on loopback: the exact requests, the
failures named by service, and URLs (which carry tokens) shown nowhere."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from mission_control.connectors.notify import (
    AppriseSender,
    InvalidReceiver,
    Outgoing,
    ReceiverRefused,
    parse_receivers,
    service_of,
)
from tests.fakes.ntfy import FakeNtfy
from tests.fakes.server import FakeServer, Reply

CANARY = "canary0d5e1b"
HELD = Outgoing(
    title="Approval needed: ops/evict-1",
    body="ops/evict-1 wants to call delete_k8s_pod (DESTRUCTIVE).\n"
    "Approve: kubectl mc approve evict-1 -n ops --tool-call tc-3",
    kind="approval",
    link="https://mc.example.lan/ui/#/runs/ops/evict-1",
)


@pytest.fixture
def webhook() -> Iterator[FakeServer]:
    with FakeServer() as server:
        server.route("POST", r"/hooks/.*", lambda request, match: Reply(200, {"ok": True}))
        yield server


@pytest.fixture
def ntfy() -> Iterator[FakeNtfy]:
    with FakeNtfy() as server:
        yield server


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_json_webhook_gets_title_message_and_type(webhook: FakeServer) -> None:
    await AppriseSender().send(f"json://127.0.0.1:{webhook.port}/hooks/{CANARY}", HELD)

    (request,) = webhook.requests_to("POST", r"/hooks/.*")
    assert request.path == f"/hooks/{CANARY}"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "version": "1.0",
        "title": HELD.title,
        "message": HELD.body,
        "attachments": [],
        "type": "warning",
    }


async def test_ntfy_gets_topic_title_priority_tags_click_and_a_view_action(
    ntfy: FakeNtfy,
) -> None:
    await AppriseSender().send(ntfy.url(f"mc-{CANARY}", token=f"tk_{CANARY}"), HELD)

    (request,) = ntfy.published
    assert request.json() == {"topic": f"mc-{CANARY}", "title": HELD.title, "message": HELD.body}
    assert request.headers["authorization"] == f"Bearer tk_{CANARY}"
    assert request.headers["x-priority"] == "high"
    assert request.headers["x-tags"] == "mission-control,warning"  # Apprise sorts them
    assert request.headers["x-click"] == HELD.link
    assert request.headers["x-actions"] == f"view, Open run, {HELD.link}"


async def test_ntfy_options_in_the_url_win_over_the_message_defaults(ntfy: FakeNtfy) -> None:
    success = Outgoing(title="Succeeded: ops/a", body="done", kind="success")

    await AppriseSender().send(ntfy.url("quiet") + "?priority=low&tags=robot", success)

    (request,) = ntfy.published
    assert request.headers["x-priority"] == "low"
    assert request.headers["x-tags"] == "robot"
    assert "x-actions" not in request.headers


async def test_a_refusing_receiver_is_named_by_its_service_never_its_url(
    ntfy: FakeNtfy, caplog: pytest.LogCaptureFixture
) -> None:
    ntfy.refuse = True
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ReceiverRefused) as caught:
        await AppriseSender(timeout_seconds=10).send(ntfy.url(f"t-{CANARY}"), HELD)

    assert caught.value.service == "ntfy"
    assert str(caught.value).startswith("the ntfy receiver did not accept the message")
    assert CANARY not in str(caught.value)
    assert len(ntfy.published) == 1  # Apprise tried; the retries are the notifier's business
    assert CANARY not in caplog.text


async def test_a_receiver_that_is_down_is_refused_quickly_and_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ReceiverRefused) as caught:
        await AppriseSender().send(f"json://127.0.0.1:{closed_port()}/{CANARY}", HELD)

    assert caught.value.service == "json"
    assert CANARY not in str(caught.value)
    assert CANARY not in caplog.text


def test_an_url_apprise_does_not_understand_is_invalid_naming_the_service_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    with pytest.raises(InvalidReceiver) as caught:
        AppriseSender().check(f"slack://{CANARY}")
    with pytest.raises(InvalidReceiver):
        AppriseSender().check(f"nosuchservice://{CANARY}@host")

    assert caught.value.service == "slack"
    assert CANARY not in str(caught.value)
    assert CANARY not in caplog.text


def test_receivers_are_read_one_per_line_without_comments_or_repeats() -> None:
    text = "# team pager\nntfys://ntfy.sh/ops-a\n\n  json://hook.lan/x  \nntfys://ntfy.sh/ops-a\n"

    assert parse_receivers(text) == ["ntfys://ntfy.sh/ops-a", "json://hook.lan/x"]
    assert service_of("NTFYS://ntfy.sh/topic") == "ntfys"
    assert service_of("not a url") == "unknown"
