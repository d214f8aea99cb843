"""The one Retry-After parser of the project: finite, never negative, capped."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from kubernetes import client as k8s

from mission_control.connectors.errors import ConnectorUnavailable
from mission_control.connectors.kubernetes import KubernetesConnector
from mission_control.errors import MAX_RETRY_AFTER_SECONDS, bounded_delay, parse_retry_after
from tests.fakes.server import FakeServer, Reply

NOW = datetime(2026, 11, 26, 8, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        (" 12 ", 12.0),
        ("-3", None),
        (None, None),
        ("", None),
        ("soon", None),
        ("inf", None),  # float() would take these; they are not delays
        ("Infinity", None),
        ("nan", None),
        ("1e9", None),
        ("1_0", None),
        ("999999999", MAX_RETRY_AFTER_SECONDS),
        ("9" * 400, None),
        ("Thu, 26 Nov 2026 08:00:30 GMT", 30.0),
        ("Thu, 26 Nov 2026 07:00:00 GMT", 0.0),  # in the past: now
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER_SECONDS),
    ],
)
def test_retry_after_headers_are_parsed_finite_and_capped(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (math.inf, None),
        (math.nan, None),
        (-1.0, None),
        (None, None),
        (2.5, 2.5),
        (1e12, MAX_RETRY_AFTER_SECONDS),
    ],
)
def test_a_delay_from_anywhere_is_bounded(value: float | None, expected: float | None) -> None:
    assert bounded_delay(value) == expected


@pytest.fixture
def api_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
async def kubernetes(api_server: FakeServer) -> AsyncIterator[KubernetesConnector]:
    connector = KubernetesConnector(k8s.Configuration(host=api_server.url), timeout=5)
    yield connector
    await connector.aclose()


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("inf", None), ("nan", None), ("999999999", MAX_RETRY_AFTER_SECONDS), ("4", 4.0)],
)
async def test_the_kubernetes_connector_uses_the_same_parser(
    kubernetes: KubernetesConnector, api_server: FakeServer, header: str, seconds: float | None
) -> None:
    pods = "/api/v1/namespaces/media/pods"
    throttled = {"kind": "Status", "code": 429, "message": "too many requests"}
    api_server.enqueue("GET", pods, Reply(429, throttled, headers={"Retry-After": header}))
    with pytest.raises(ConnectorUnavailable, match="throttling") as caught:
        await kubernetes.list_pods("media")
    assert caught.value.retry_after == seconds
