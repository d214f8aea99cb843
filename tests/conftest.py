"""Shared test configuration: fixture modules live in ``tests/fixtures/`` and register here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

pytest_plugins: list[str] = [
    "tests.fixtures.controlplane",
    "tests.fixtures.fakes_tools",
    "tests.fixtures.kubelet",
    "tests.fixtures.llm",
    "tests.fixtures.ollama",
    "tests.fixtures.postgres",
    "tests.fixtures.prometheus",
]


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks running: they would outlive what they belong to."""
    before = asyncio.all_tasks()
    yield
    others = asyncio.all_tasks() - before - {asyncio.current_task()}
    if others:  # give tasks that were told to stop (and generator finalisers) a moment
        await asyncio.wait(others, timeout=0.2)
    leaked = [task for task in others if not task.done()]
    for task in leaked:
        task.cancel()
    assert not leaked, f"tasks left running: {[task.get_coro() for task in leaked]}"
