"""The LLM tests cannot reach anything but loopback, nor resolve a paid API's host."""

from __future__ import annotations

import socket

import pytest


def test_connecting_to_a_non_loopback_address_fails_the_test() -> None:
    with pytest.raises(AssertionError, match="only the local fakes"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)


def test_resolving_a_cloud_llm_api_fails_the_test() -> None:
    with pytest.raises(AssertionError, match="real LLM API"):
        socket.getaddrinfo("api.anthropic.com", 443)


def test_loopback_connections_are_allowed(fake_ollama: object) -> None:
    port = fake_ollama.port  # type: ignore[attr-defined]
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
